"""The SMS path for real: the SMSC stand-in over TCP, the API over HTTP, an SMS worker, HTTP callback receivers.

``sms_stack`` (session scope, one per database: SQLite and PostgreSQL) starts the stand-in with
the scenario below, the API (``api.app.create_app`` in a gevent WSGIServer) on
a fresh database, and one :class:`sms.worker.SmsWorker` bound to the stand-in,
all in the test process; Redis is the real one under a unique prefix.

Scenario by destination (numbers of the test region IN):

* ``+9199900…`` — undelivered (receipt ``UNDELIV err:001``)
* ``+9199901…`` — refused by the SMSC (0x0B, invalid destination): failed
* ``+9199902…`` — throttled (0x58) twice, then accepted and delivered
* ``+9199903…`` — a late receipt (0.8 s)
* anything else — delivered after 0.1 s
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

import pytest

from tests.conftest import free_port

SCENARIO = {
    "default": {"dlr": "DELIVRD", "delay": 0.1},
    "rules": [
        {"match": r"^9199900", "dlr": "UNDELIV", "err": "001", "delay": 0.1},
        {"match": r"^9199901", "submit_status": 0x0B},
        {"match": r"^9199902", "submit_status": 0x58, "fail_times": 2, "delay": 0.1},
        {"match": r"^9199903", "dlr": "DELIVRD", "delay": 0.8},
    ],
}


@dataclass
class SmsStack:
    """The running parts: the API (an ApiStack), the stand-in, the worker and a callback receiver."""

    api: object
    smsc: object
    worker: object
    receiver: object

    @property
    def cfg(self):
        return self.api.cfg

    def callbacks(self, path: str, n: int, timeout: float = 8.0, where=None) -> list[dict]:
        """Wait for at least ``n`` callbacks on ``path`` (matching ``where``) and return them."""
        deadline = time.monotonic() + timeout
        while True:
            got = [b for b in self.receiver.bodies(path) if where is None or where(b)]
            if len(got) >= n or time.monotonic() > deadline:
                return got
            time.sleep(0.02)

    def received_for(self, number: str) -> list:
        """The submit_sm the stand-in accepted for ``number`` (digits, as SMPP carries it)."""
        return [r for r in self.smsc.received if r.destination == number.lstrip("+")]


def start_smsc(**kw):
    """A stand-in with the tests' scenario on a free port."""
    from sms.standin import Scenario, Smsc

    return Smsc(port=0, scenario=Scenario.from_dict(SCENARIO), **kw).start()


def sms_env(smsc_port: int, **extra) -> dict:
    """Settings of a test stack bound to the stand-in: fast retries and keep-alives."""
    return {"SMPP_HOST": "127.0.0.1", "SMPP_PORT": str(smsc_port), "SMPP_TPS": "500", "SMPP_WINDOW": "10",
            "SMPP_ENQUIRE_LINK": "2", "SMPP_RESPONSE_TIMEOUT": "3", "SMS_RETRY_BACKOFF": "0.2",
            "CALLBACK_BACKOFF": "0.2", "CALLBACK_MAX_TRIES": "3", **extra}


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def sms_stack(request, tmp_path_factory):
    from sms.worker import SmsWorker
    from tests.api.conftest import api_on
    from tests.dialer.store_helpers import Receiver

    smsc = start_smsc()
    with api_on(request, tmp_path_factory, "sms", sms_env(smsc.port)) as api:
        worker = SmsWorker(api.cfg, sweep_every=0.5, scheduler_every=0.1).start()
        assert worker.bind.wait_bound(5)
        receiver = Receiver()
        yield SmsStack(api, smsc, worker, receiver)
        worker.stop(grace=1)
        smsc.stop()
        receiver.close()


def free_number(prefix: str = "+9198") -> str:
    """A fresh Indian mobile number under ``prefix`` (tests never share one)."""
    return prefix + str(uuid.uuid4().int)[: 13 - len(prefix)]


__all__ = ["SmsStack", "free_number", "free_port", "start_smsc", "sms_env"]
