"""The platform's configuration: every setting, read from environment variables.

This is the one place where configuration is defined. Each setting is declared
once in ``SETTINGS`` with its environment variable, default and meaning; the
README's configuration table is generated from the same list
(``python -m config --markdown``), so the documentation cannot drift from the
code.

Usage::

    from config import settings
    cfg = settings()          # reads os.environ once per process (cached)
    cfg.redis_url

Tests build their own with ``load({"REDIS_URL": ...})``.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from dataclasses import dataclass
from typing import Any, Callable, Mapping


def _bool(value: str) -> bool:
    v = value.strip().lower()
    if v in ("1", "true", "yes", "on"):
        return True
    if v in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"expected a boolean (1/0, true/false, yes/no), got {value!r}")


def _float(value: str) -> float:
    return float(value)


def _int(value: str) -> int:
    return int(value)


def _str(value: str) -> str:
    return value


#: How numbers are written in dial strings to the carrier (see ivr/number_format.py).
NUMBER_FORMATS = ("e164", "e164_plus", "national", "national_trunk")


def _number_format(value: str) -> str:
    v = value.strip().lower()
    if v not in NUMBER_FORMATS:
        raise ValueError(f"expected one of {', '.join(NUMBER_FORMATS)}, got {value!r}")
    return v


def _dtmf(value: str) -> str:
    v = value.strip().upper()
    if not v or any(c not in "0123456789*#ABCD" for c in v):
        raise ValueError(f"expected DTMF digits (0-9, *, #, A-D), got {value!r}")
    return v


@dataclass(frozen=True)
class Setting:
    """One configuration entry: the attribute, its environment variable, default and meaning."""

    attr: str
    env: str
    default: str
    parse: Callable[[str], Any]
    doc: str


# Defaults are what `make run` uses on a fresh machine. Paths are relative to
# DATA_DIR unless absolute.
SETTINGS: tuple[Setting, ...] = (
    # Where things live
    Setting("data_dir", "DATA_DIR", "var", _str,
            "Directory for the SQLite database, recordings, uploads, logs and the private Redis."),
    Setting("database_url", "DATABASE_URL", "", _str,
            "SQLAlchemy URL of the durable store. Empty: SQLite file `<DATA_DIR>/vaani.db` (WAL mode). "
            "PostgreSQL: `postgresql+psycopg2://user@host/db`."),
    Setting("redis_url", "REDIS_URL", "redis://127.0.0.1:6379/0", _str,
            "Redis for RQ queues, rate limiters, live-call counters and idempotency keys. "
            "`make run` starts a private Redis when none answers here."),
    Setting("key_prefix", "REDIS_KEY_PREFIX", "vaani", _str,
            "Prefix of every Redis key and RQ queue name, so that several installations (or test runs) can share one Redis."),
    # FreeSWITCH
    Setting("freeswitch_nodes", "FREESWITCH_NODES", "127.0.0.1:8021:ClueCon", _str,
            "Comma-separated FreeSWITCH event sockets `host:port:password[:max_sessions[:sps]]` the dialer originates through."),
    Setting("freeswitch_simulator", "FREESWITCH_SIMULATOR", "1", _bool,
            "`make run` starts the bundled ESL simulator on the first node's address. Set 0 against a real FreeSWITCH."),
    Setting("freeswitch_prefix", "FREESWITCH_PREFIX", "", _str,
            "Install prefix of a real FreeSWITCH 1.10 (`<prefix>/bin/freeswitch`) for `python -m freeswitch.realfs` "
            "and `make e2e`. Empty: `make e2e` reports \"skipped: no real FreeSWITCH\"."),
    Setting("realfs_dir", "REALFS_DIR", "realfs", _str,
            "Private tree (configuration, logs, databases, pid) of that FreeSWITCH, relative to DATA_DIR."),
    Setting("sim_scenario", "SIM_SCENARIO", "", _str,
            "Simulator scenario file (YAML/JSON) describing who answers and what they do. Empty: the bundled default."),
    Setting("sim_speed", "SIM_SPEED", "1", _float,
            "Simulator time factor: 20 makes a 60-second call last 3 seconds."),
    Setting("sim_max_sessions", "SIM_MAX_SESSIONS", "1000", _int, "Simulator max-sessions (FreeSWITCH default 1000)."),
    Setting("sim_sps", "SIM_SPS", "30", _int, "Simulator sessions-per-second (FreeSWITCH default 30)."),
    # IVR runtime
    Setting("ivr_listen", "IVR_LISTEN", "127.0.0.1:8084", _str,
            "Address the IVR runtime's outbound-socket server listens on."),
    Setting("ivr_socket_address", "IVR_SOCKET_ADDRESS", "", _str,
            "Address FreeSWITCH is told to connect to in `&socket(...)`. Empty: IVR_LISTEN."),
    Setting("ivr_dial_endpoint", "IVR_DIAL_ENDPOINT", "sofia/gateway/vaani_trunk/{number}", _str,
            "FreeSWITCH endpoint an IVR app's `<dial>` bridges to; `{number}` is replaced by the number dialled."),
    Setting("ivr_sip_endpoint", "IVR_SIP_ENDPOINT", "sofia/vaani/{uri}", _str,
            "FreeSWITCH endpoint a TwiML `Sip` / Plivo `User` SIP URI is dialled through; `{uri}` is the URI."),
    Setting("ivr_client_endpoint", "IVR_CLIENT_ENDPOINT", "user/{name}", _str,
            "FreeSWITCH endpoint a TwiML `Client` (a user registered on the switch) is dialled through."),
    Setting("app_connect_timeout", "APP_CONNECT_TIMEOUT", "3", _float,
            "Seconds to connect to a customer's IVR app (doc_url) before falling back."),
    Setting("app_read_timeout", "APP_READ_TIMEOUT", "10", _float,
            "Seconds to wait for a customer's IVR app to answer before falling back."),
    Setting("app_max_bytes", "APP_MAX_BYTES", "1048576", _int,
            "Largest IVR app response accepted (bytes)."),
    Setting("default_app_url", "DEFAULT_APP_URL", "", _str,
            "App fetched when both doc_url and alt_doc_url fail. Empty: apologise and hang up."),
    Setting("recordings_dir", "RECORDINGS_DIR", "recordings", _str,
            "Where FreeSWITCH writes call recordings (must be the same path on the FreeSWITCH host)."),
    Setting("tts_engine", "TTS_ENGINE", "flite", _str,
            "FreeSWITCH speech engine used by `speak` (flite, polly, ...)."),
    Setting("tts_voice_map", "TTS_VOICE_MAP", "", _str,
            "Seed voice name to engine voice, e.g. `Joanna=slt,Matthew=rms,Raveena=slt`. Empty: the built-in map."),
    Setting("speech_engine", "SPEECH_ENGINE", "pocketsphinx", _str,
            "Speech recognition engine for `<recognize>`, speech `Gather`/`GetInput` and transcripts: `pocketsphinx` "
            "(offline, the English model its package ships) or a dotted path `package.module:Class` (docs/speech.md)."),
    Setting("speech_workers", "SPEECH_WORKERS", "2", _int,
            "Recognizer subprocesses per IVR runtime (recognition runs off the call loop; extra requests queue)."),
    # HTTP API
    Setting("http_host", "HTTP_HOST", "127.0.0.1", _str, "Address the HTTP API binds to."),
    Setting("http_port", "HTTP_PORT", "8080", _int, "Port of the HTTP API."),
    Setting("http_workers", "HTTP_WORKERS", "0", _int,
            "gunicorn gevent workers for the API. 0: one on SQLite (one writer at a time), one per core on PostgreSQL."),
    Setting("public_url", "PUBLIC_URL", "", _str,
            "Base URL clients use to reach the API (recording URLs are built from it). Empty: http://HTTP_HOST:HTTP_PORT."),
    Setting("upload_dir", "UPLOAD_DIR", "uploads", _str,
            "Directory standing in for the seed's S3 bucket: CSV imports may name a file here."),
    Setting("default_region", "DEFAULT_REGION", "IN", _str,
            "Region used to read national-format numbers when an account sets none (ISO 3166 code)."),
    Setting("kairos_checksum_window", "KAIROS_CHECKSUM_WINDOW", "300", _int,
            "Seconds during which a byte-identical Kairos payload is refused with CHECKSUM_REPEATED."),
    Setting("dashboard_secret_key", "DASHBOARD_SECRET_KEY", "", _str,
            "Key that signs the dashboard's session cookies (`/dashboard`). Empty: a random key kept in "
            "`<DATA_DIR>/dashboard-secret`, made on first start and shared by every API worker."),
    Setting("dashboard_session_hours", "DASHBOARD_SESSION_HOURS", "12", _float,
            "Hours a dashboard sign-in lasts."),
    # Dialer
    Setting("dialer_workers", "DIALER_WORKERS", "1", _int, "Dialer worker processes `make run` starts."),
    Setting("dialer_gateway", "DIALER_GATEWAY", "vaani_trunk", _str,
            "Sofia gateway outbound calls go through: `sofia/gateway/<DIALER_GATEWAY>/<number>`."),
    Setting("dialer_number_format", "DIALER_NUMBER_FORMAT", "e164", _number_format,
            "How numbers and caller ids are written in dial strings to the carrier (the dialer's originates, "
            "the IVR's `<dial>`, transfers): `e164` (`918000681234`), `e164_plus` (`+918000681234`), "
            "`national` (`8000681234`) or `national_trunk` (`08000681234`). In the national formats a number "
            "outside DEFAULT_REGION's country is written as that country dials abroad. See docs/dialer.md."),
    Setting("dialer_gateway_cps", "DIALER_GATEWAY_CPS", "10", _float,
            "Calls per second the gateway (carrier) accepts; a cap shared by every dialer worker (0: none)."),
    Setting("originate_timeout", "ORIGINATE_TIMEOUT", "45", _int,
            "Seconds an outbound call may ring before it counts as NOANSWER."),
    Setting("agent_end_dtmf", "AGENT_END_DTMF", "#", _dtmf,
            "The digit a nailed-up agent presses on its phone to end the conversation it is on (any of them, "
            "if several). See docs/agents.md."),
    # Status callbacks
    Setting("callback_connect_timeout", "CALLBACK_CONNECT_TIMEOUT", "3", _float,
            "Seconds to connect to a customer's callback_url."),
    Setting("callback_read_timeout", "CALLBACK_READ_TIMEOUT", "5", _float,
            "Seconds to wait for a callback receiver's answer before counting the try as failed."),
    Setting("callback_max_tries", "CALLBACK_MAX_TRIES", "6", _int,
            "Tries of one status callback before it is marked failed."),
    Setting("callback_backoff", "CALLBACK_BACKOFF", "10", _float,
            "Seconds before the first retry of a failed callback; doubled on each retry (at most 10 minutes)."),
    # Prices and balance (docs/billing.md)
    Setting("billing_currency", "BILLING_CURRENCY", "Rs.", _str,
            "Currency sign Konnect's Balance shows before an account's balance (`Rs.4,801`)."),
    Setting("billing_reserve_seconds", "BILLING_RESERVE_SECONDS", "600", _int,
            "Seconds of talk a prepaid call reserves at its start (fewer if the balance holds less); the call is "
            "cut with ALLOTTED_TIMEOUT when they run out, so concurrent calls never overdraw."),
    # Prometheus metrics (docs/metrics.md)
    Setting("metrics_enabled", "METRICS_ENABLED", "1", _bool,
            "Prometheus metrics: every long-running process counts and serves `/metrics` (the API on HTTP_PORT). "
            "0: nothing is counted or served. See docs/metrics.md."),
    Setting("metrics_host", "METRICS_HOST", "127.0.0.1", _str,
            "Address the dialer workers' and the IVR runtime's `/metrics` servers bind to."),
    Setting("dialer_metrics_port", "DIALER_METRICS_PORT", "9185", _int,
            "Port of the first dialer worker's `/metrics`; `make run` and `--workers N` give worker n this + n - 1. "
            "0: not served."),
    Setting("ivr_metrics_port", "IVR_METRICS_PORT", "9184", _int, "Port of the IVR runtime's `/metrics` (0: not served)."),
    # SMS (docs/sms.md)
    Setting("smpp_host", "SMPP_HOST", "127.0.0.1", _str, "The operator's SMSC (SMPP 3.4) the SMS workers bind to."),
    Setting("smpp_port", "SMPP_PORT", "2775", _int, "Port of the SMSC."),
    Setting("smpp_system_id", "SMPP_SYSTEM_ID", "vaani", _str, "SMPP system_id of the transceiver binds."),
    Setting("smpp_password", "SMPP_PASSWORD", "vaani", _str, "SMPP password of the binds."),
    Setting("smpp_system_type", "SMPP_SYSTEM_TYPE", "", _str, "SMPP system_type of the binds (often empty)."),
    Setting("smpp_tps", "SMPP_TPS", "50", _float,
            "submit_sm per second the SMSC allows this system_id: one limit shared by every SMS worker's bind."),
    Setting("smpp_window", "SMPP_WINDOW", "10", _int,
            "submit_sm a bind may have sent and not yet had answered (SMPP windowing)."),
    Setting("smpp_enquire_link", "SMPP_ENQUIRE_LINK", "30", _float,
            "Seconds between enquire_link PDUs on a bind; a bind whose SMSC does not answer is reconnected."),
    Setting("smpp_response_timeout", "SMPP_RESPONSE_TIMEOUT", "10", _float,
            "Seconds to wait for a submit_sm_resp or enquire_link_resp before the bind is taken as dead."),
    Setting("smsc_standin", "SMSC_STANDIN", "1", _bool,
            "`make run` starts the bundled SMSC stand-in (`python -m sms.standin`) on SMPP_HOST:SMPP_PORT. "
            "Set 0 against a real SMSC."),
    Setting("smsc_standin_scenario", "SMSC_STANDIN_SCENARIO", "", _str,
            "Stand-in scenario file (JSON/YAML): delivery reports, failures and delays by destination. "
            "Empty: every message delivered after 1 s."),
    Setting("sms_workers", "SMS_WORKERS", "1", _int, "SMS worker processes (`python -m sms worker`) `make run` starts."),
    Setting("sms_default_sender", "SMS_DEFAULT_SENDER", "VAANI", _str,
            "Sender (source_addr) of messages that give neither `from` nor `sender_mask`."),
    Setting("sms_max_tries", "SMS_MAX_TRIES", "5", _int,
            "Tries of a message the SMSC refuses with a temporary error (throttled, queue full) before it fails."),
    Setting("sms_retry_backoff", "SMS_RETRY_BACKOFF", "2", _float,
            "Seconds before the first retry of a temporarily refused message; doubled on each retry."),
    Setting("sms_worker_timeout", "SMS_WORKER_TIMEOUT", "6", _float,
            "Seconds without a heartbeat after which an SMS worker counts as dead and the messages it held are "
            "recovered by the others (parts it may have written are never written again)."),
)


def _attrs() -> dict[str, Setting]:
    return {s.attr: s for s in SETTINGS}


@dataclass(frozen=True)
class Settings:
    """Parsed configuration. Build with :func:`load` or :func:`settings`."""

    data_dir: str
    database_url: str
    redis_url: str
    key_prefix: str
    freeswitch_nodes: str
    freeswitch_simulator: bool
    freeswitch_prefix: str
    realfs_dir: str
    sim_scenario: str
    sim_speed: float
    sim_max_sessions: int
    sim_sps: int
    ivr_listen: str
    ivr_socket_address: str
    ivr_dial_endpoint: str
    ivr_sip_endpoint: str
    ivr_client_endpoint: str
    app_connect_timeout: float
    app_read_timeout: float
    app_max_bytes: int
    default_app_url: str
    recordings_dir: str
    tts_engine: str
    tts_voice_map: str
    speech_engine: str
    speech_workers: int
    http_host: str
    http_port: int
    http_workers: int
    public_url: str
    upload_dir: str
    default_region: str
    kairos_checksum_window: int
    dashboard_secret_key: str
    dashboard_session_hours: float
    dialer_workers: int
    dialer_gateway: str
    dialer_number_format: str
    dialer_gateway_cps: float
    originate_timeout: int
    agent_end_dtmf: str
    callback_connect_timeout: float
    callback_read_timeout: float
    callback_max_tries: int
    callback_backoff: float
    billing_currency: str
    billing_reserve_seconds: int
    metrics_enabled: bool
    metrics_host: str
    dialer_metrics_port: int
    ivr_metrics_port: int
    smpp_host: str
    smpp_port: int
    smpp_system_id: str
    smpp_password: str
    smpp_system_type: str
    smpp_tps: float
    smpp_window: int
    smpp_enquire_link: float
    smpp_response_timeout: float
    smsc_standin: bool
    smsc_standin_scenario: str
    sms_workers: int
    sms_default_sender: str
    sms_max_tries: int
    sms_retry_backoff: float
    sms_worker_timeout: float

    def path(self, value: str) -> str:
        """Resolve a configured path against DATA_DIR (absolute paths are kept)."""
        return value if os.path.isabs(value) else os.path.join(self.data_dir, value)

    @property
    def sqlalchemy_url(self) -> str:
        """The database URL, defaulting to a SQLite file in DATA_DIR."""
        if self.database_url:
            return self.database_url
        return "sqlite:///" + os.path.abspath(self.path("vaani.db"))

    @property
    def base_url(self) -> str:
        """Public base URL of the HTTP API, without a trailing slash."""
        return (self.public_url or f"http://{self.http_host}:{self.http_port}").rstrip("/")

    @property
    def ivr_address(self) -> str:
        """host:port that FreeSWITCH's socket application connects to."""
        return self.ivr_socket_address or self.ivr_listen

    def replace(self, **changes: Any) -> "Settings":
        """A copy with some settings changed (for tests and tools)."""
        return dataclasses.replace(self, **changes)


class ConfigError(ValueError):
    """A setting's environment variable holds a value that cannot be parsed."""


def load(environ: Mapping[str, str] | None = None) -> Settings:
    """Read every setting from ``environ`` (default ``os.environ``), applying defaults."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for s in SETTINGS:
        raw = env.get(s.env, s.default)
        try:
            values[s.attr] = s.parse(raw)
        except ValueError as exc:
            raise ConfigError(f"{s.env}={raw!r}: {exc}") from None
    return Settings(**values)


@functools.lru_cache(maxsize=1)
def settings() -> Settings:
    """The process-wide configuration, read once from the environment."""
    return load()


def markdown_table() -> str:
    """The configuration table for the README."""
    rows = ["| Variable | Default | Meaning |", "| --- | --- | --- |"]
    for s in SETTINGS:
        default = f"`{s.default}`" if s.default else "(empty)"
        rows.append(f"| `{s.env}` | {default} | {s.doc} |")
    return "\n".join(rows)
