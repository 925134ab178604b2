"""The instruction model that KooKoo XML and KML apps both parse into.

An :class:`App` is one XML document (one HTTP response of the customer's app):
an ordered tuple of instructions plus the root's attributes. The IVR runtime
executes the instructions in order. After each instruction it asks
:meth:`Instruction.next_request` where the call goes next:

* ``None`` — carry on with the next instruction of the same document;
* a :class:`NextRequest` — stop executing this document and fetch the next one
  (``kind`` says from where, ``event`` names the KooKoo event to report, and
  the instruction's result — digits, recording URL, dial status — goes with it);
  ``kind == NEXT_END`` means the call is over.

When the last instruction returns ``None`` the runtime asks
:meth:`App.end_request` (both dialects: hang up).

Durations are integer milliseconds everywhere in the model, whatever unit the
dialect writes (KooKoo mixes ms and seconds; KML uses seconds). The parser fills
in the dialect's default for every attribute left out, as documented in
``docs/kookoo.md`` and ``docs/kml.md``; None remains only where absence has a
meaning (no voice chosen: the platform's; no ``action``: the current URL).

Apps are cached and shared between greenlets: treat instances as read-only
(nested lists are tuples). They are plain (slotted, not frozen) dataclasses
because a frozen dataclass is three times slower to build, and building them
is much of a parse. ``line`` is where the element started in the source; it is
excluded from equality so that model → XML → model is an identity.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, Union

# --- dialects ---------------------------------------------------------------
KOOKOO = "kookoo"
KML = "kml"
TWIML = "twiml"   # Twilio's markup, accepted as Twilio writes it (docs/twiml.md)
PLIVO = "plivo"   # Plivo XML, accepted as Plivo writes it (docs/plivo.md)
DIALECTS = (KOOKOO, KML, TWIML, PLIVO)

# --- call events (seed 003 names; KooKoo sends them as ``event=``) -------------
EVENT_NEW_CALL = "NewCall"
EVENT_GOT_DTMF = "GotDTMF"
EVENT_RECORD = "Record"
EVENT_DIAL = "Dial"
EVENT_HANGUP = "Hangup"          # the caller hung up
EVENT_DISCONNECT = "Disconnect"  # we (the platform) hung up, e.g. on <hangup/>
EVENT_RECOGNIZE = "Recognize"    # KooKoo's speech recognition result (KooKoo python library sample)
EVENT_CONFERENCE = "Conference"  # the caller left a conference room
EVENT_ENQUEUE = "Enqueue"        # the caller left a queue (TwiML Enqueue action: QueueResult)

# --- where the next request goes ------------------------------------------------
NEXT_SAME_URL = "same_url"  # the URL the current document came from
NEXT_GOTOURL = "gotourl"    # KooKoo <gotourl> (also: a gotourl after an event tag redirects that event)
NEXT_ACTION = "action"      # KML action="..." of Gather/Record/Dial, or Redirect
NEXT_END = "end"            # the call ends; no further document is fetched

#: Parameters of a KML request (Konnect doc_url, seed 000), per event. ``call_id``,
#: ``campaign_id``, ``phone_number`` and ``call_status`` are sent on every request.
KML_EVENT_PARAMS: dict[str | None, tuple[str, ...]] = {
    None: (),
    EVENT_NEW_CALL: (),
    EVENT_GOT_DTMF: ("key_pressed",),
    EVENT_RECORD: ("media_url", "record_duration"),
    EVENT_DIAL: ("dial_status", "dial_duration", "media_url"),
    EVENT_RECOGNIZE: ("speech_result",),
    EVENT_CONFERENCE: ("conference_duration",),
    EVENT_ENQUEUE: ("queue_result", "queue_time"),
}

#: Parameters of a KooKoo request per event (seed 003); ``sid`` and ``event`` always.
KOOKOO_EVENT_PARAMS: dict[str | None, tuple[str, ...]] = {
    EVENT_NEW_CALL: ("cid", "called_number", "circle", "operator", "outbound_sid"),
    EVENT_GOT_DTMF: ("data",),
    EVENT_RECORD: ("data", "duration"),
    EVENT_DIAL: ("data", "status", "duration", "message"),
    EVENT_RECOGNIZE: ("data",),
    EVENT_CONFERENCE: ("data", "duration"),
    EVENT_ENQUEUE: ("data", "duration"),
    EVENT_HANGUP: ("process", "data"),
    EVENT_DISCONNECT: ("process", "data"),
}


@dataclass(frozen=True)
class NextRequest:
    """Where the call goes after an instruction: fetch a document, or end.

    ``url`` None means "the URL the current document came from". ``event`` is
    the KooKoo event name to report (KML maps it to parameters with
    :data:`KML_EVENT_PARAMS`); None when nothing is reported.
    """

    kind: str
    url: str | None = None
    method: str = "GET"
    event: str | None = None


END = NextRequest(NEXT_END)


def _line_field() -> Any:
    return field(default=None, compare=False, repr=False, kw_only=True)


class Instruction:
    """Base of every instruction: what it reports and where the call goes afterwards."""

    __slots__ = ()

    #: Short name used in JSON output (``kml validate``) and error messages.
    kind: ClassVar[str] = ""
    #: The call event this instruction produces when it finishes (None: it produces none).
    event: ClassVar[str | None] = None

    def next_request(self, app: "App") -> NextRequest | None:
        """None: continue with the next instruction; else the request (or end) that follows."""
        return None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict with a ``type`` key; nested prompts become lists of dicts."""
        out: dict[str, Any] = {"type": self.kind}
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if isinstance(value, tuple):
                value = [v.to_dict() if isinstance(v, Instruction) else v for v in value]
            out[f.name] = value
        return out


def _event_request(app: "App", event: str, action: str | None, method: str) -> NextRequest:
    """The request that reports ``event``: to ``action`` (KML), a gotourl (KooKoo) or the same URL."""
    if action:
        return NextRequest(NEXT_ACTION, action, method, event)
    if app.dialect == KOOKOO:
        goto = app.gotourl()
        if goto is not None:
            return NextRequest(NEXT_GOTOURL, goto.url, goto.method, event)
    return NextRequest(NEXT_SAME_URL, None, method, event)


# --- prompts ---------------------------------------------------------------------


@dataclass(slots=True)
class Speak(Instruction):
    """Speak ``text`` with TTS. KooKoo ``playtext``/``say-as``; KML ``Say``/``Speak``.

    ``say_as`` is KooKoo's say-as ``format`` code (e.g. ``501`` digits); when set
    the text is read as a date/currency/number rather than as prose.
    ``speed`` (KooKoo 1..9), ``quality`` and ``tts_type`` are KooKoo's; ``voice``,
    ``rate``, ``pitch``, ``volume`` and ``engine`` follow seed 002's TTS options.
    """

    kind: ClassVar[str] = "speak"
    text: str
    lang: str | None = None
    voice: str | None = None
    speed: int | None = None
    quality: str | None = None
    tts_type: str | None = None
    say_as: str | None = None
    rate: str | None = None
    pitch: str | None = None
    volume: str | None = None
    engine: str | None = None
    loop: int = 1
    line: int | None = _line_field()


@dataclass(slots=True)
class Play(Instruction):
    """Play the audio file at ``url``. KooKoo ``playaudio``; KML ``Play``."""

    kind: ClassVar[str] = "play"
    url: str
    loop: int = 1
    line: int | None = _line_field()


@dataclass(slots=True)
class Pause(Instruction):
    """Silence for ``length_ms``. KML ``Pause``/``Wait`` (KooKoo has no pause tag)."""

    kind: ClassVar[str] = "pause"
    length_ms: int = 1000
    line: int | None = _line_field()


Prompt = Union[Speak, Play, Pause]


# --- input -------------------------------------------------------------------------


@dataclass(slots=True)
class CollectDigits(Instruction):
    """Play ``prompts`` and collect DTMF digits. KooKoo ``collectdtmf``; KML ``Gather``/``GetDigits``.

    Input ends at ``max_digits`` digits, on ``finish_on_key`` (not included in the
    result), or ``timeout_ms`` after the prompts / the last digit. The digits are
    reported as event GotDTMF (KooKoo ``data``, KML ``key_pressed``).
    With ``action_on_empty`` False (KML's TwiML-like default) a timeout without
    digits carries on with the next instruction instead of making a request.
    Plivo ``GetDigits`` adds ``tries`` (prompts played up to this many times
    while no valid input came), ``valid_digits`` (the keys accepted; "" all),
    ``invalid_prompt`` (an audio URL played after invalid input) and
    ``digit_timeout_ms`` (between digits; None: ``timeout_ms``).
    """

    kind: ClassVar[str] = "collect_digits"
    event: ClassVar[str | None] = EVENT_GOT_DTMF
    prompts: tuple[Prompt, ...] = ()
    max_digits: int = 1
    finish_on_key: str = "#"
    timeout_ms: int = 4000
    action: str | None = None
    method: str = "GET"
    action_on_empty: bool = True
    tries: int = 1
    valid_digits: str = ""
    invalid_prompt: str | None = None
    digit_timeout_ms: int | None = None
    line: int | None = _line_field()

    def next_request(self, app: "App") -> NextRequest | None:
        """The GotDTMF request (the runtime skips it when no digit came and ``action_on_empty`` is False)."""
        return _event_request(app, EVENT_GOT_DTMF, self.action, self.method)


@dataclass(slots=True)
class Recognize(Instruction):
    """Speech recognition. KooKoo ``recognize``, TwiML ``Gather input="speech"``, Plivo ``GetInput``.

    Reported as event Recognize with the text. ``recognizer`` is KooKoo's ``type``
    (e.g. ``ggl-stream``); ``length`` the number of words/digits expected;
    ``grammar`` the grammar name. Recognition listens for ``timeout_ms`` for
    speech to start and ends after ``silence_ms`` of silence once it has.

    The TwiML/Plivo fields (defaults keep KooKoo's behaviour):

    * ``hints`` — words or phrases likely to be said (TwiML ``hints``, Plivo
      ``hints``), given to the recogniser as a bias/grammar;
    * ``dtmf`` — digits are accepted too (TwiML ``input="dtmf speech"``, Plivo
      ``inputType="dtmf speech"``); a key press ends recognition and the
      digits are reported instead of speech; ``max_digits`` (0: no digit
      limit other than ``finish_on_key``) and ``finish_on_key`` ("" none) then
      bound the digits as for :class:`CollectDigits`;
    * ``action``/``method`` — where the result goes (None: the current URL);
    * ``action_on_empty`` — False: when nothing was said or pressed, carry on
      with the next instruction instead of making a request (TwiML's default);
    * ``partial_callback`` — URL that receives interim results while the
      caller speaks (TwiML ``partialResultCallback``, Plivo
      ``interimSpeechResultsCallback``); None: none are sent.

    The runtime's result dict for a Recognize holds ``speech_result`` (the
    text, "" for none), ``confidence`` (0.0–1.0 as a float; 0.0 for none) and,
    when the caller pressed keys instead, ``digits``; the parameter builders
    of each dialect turn these into KooKoo ``data``, KML ``speech_result``,
    TwiML ``SpeechResult``/``Confidence``/``Digits`` and Plivo
    ``Speech``/``SpeechConfidenceScore``/``Digits``.
    """

    kind: ClassVar[str] = "recognize"
    event: ClassVar[str | None] = EVENT_RECOGNIZE
    recognizer: str = "ggl-stream"
    timeout_ms: int = 10000
    silence_ms: int = 3000
    lang: str | None = None
    length: int = 1
    grammar: str | None = None
    success_file: str | None = None
    prompts: tuple[Prompt, ...] = ()
    hints: tuple[str, ...] = ()
    dtmf: bool = False
    max_digits: int = 0
    finish_on_key: str = ""
    action: str | None = None
    method: str = "POST"
    action_on_empty: bool = True
    partial_callback: str | None = None
    line: int | None = _line_field()

    def next_request(self, app: "App") -> NextRequest | None:
        """The Recognize request: to ``action`` when set (with ``method``), else as KooKoo does (GET)."""
        if self.action:
            return _event_request(app, EVENT_RECOGNIZE, self.action, self.method)
        return _event_request(app, EVENT_RECOGNIZE, None, "GET" if app.dialect in (KOOKOO, KML) else self.method)


@dataclass(slots=True)
class Record(Instruction):
    """Record the caller. KooKoo ``record`` (body = file name); KML ``Record``.

    Stops after ``silence_ms`` of silence, at ``max_duration_ms``, or on
    ``finish_on_key`` (one key, or several in TwiML/Plivo: any of them ends it).
    Reported as event Record with the recording's URL.

    TwiML/Plivo add: ``status_callback``/``status_callback_method`` (TwiML
    ``recordingStatusCallback``, Plivo ``callbackUrl``: told when the file is
    complete), ``transcribe``/``transcribe_callback`` (a transcript of the
    recording made after the call, delivered to that URL), and ``session``
    (Plivo ``recordSession``: record the rest of the call in the background
    and carry on at once).
    """

    kind: ClassVar[str] = "record"
    event: ClassVar[str | None] = EVENT_RECORD
    name: str | None = None
    format: str = "wav"
    silence_ms: int = 4000
    max_duration_ms: int = 60000
    finish_on_key: str = "#"
    play_beep: bool = False
    action: str | None = None
    method: str = "GET"
    status_callback: str | None = None
    status_callback_method: str = "POST"
    transcribe: bool = False
    transcribe_callback: str | None = None
    session: bool = False
    line: int | None = _line_field()

    def next_request(self, app: "App") -> NextRequest | None:
        """The Record request (none for a background session recording)."""
        if self.session:
            return None
        return _event_request(app, EVENT_RECORD, self.action, self.method)


# --- connecting ---------------------------------------------------------------------


@dataclass(slots=True)
class Dial(Instruction):
    """Call ``numbers`` (tried in order) and bridge. KooKoo ``dial``; KML ``Dial``/``Number``.

    ``time_limit_ms`` caps the bridged call (KooKoo ``limittime``, KML ``timeLimit``);
    ``timeout_ms`` is how long to let it ring. ``moh`` is what the caller hears
    meanwhile (KooKoo: ``default`` music, ``ring``, ``normal``);
    ``prompt_to_called`` an audio URL played to the called party first.
    Reported as event Dial (status answered/not_answered, recording URL).

    TwiML/Plivo add: ``sip`` (SIP URIs, TwiML ``Sip``, Plivo ``User``) and
    ``clients`` (users registered on our switch, TwiML ``Client``) dialled
    after the numbers; ``record_from`` ``answer`` or ``ringing`` and
    ``record_dual`` (TwiML ``record-from-answer-dual`` …: one channel per
    party); ``hangup_on_star`` (the caller's ``*`` ends the bridged leg and the
    document carries on); ``send_digits`` (keys sent to the called party when
    it answers; ``w`` waits half a second); ``ring_all`` (TwiML and Plivo:
    every target rings at once and the first to answer is bridged, instead
    of trying them in order).
    """

    kind: ClassVar[str] = "dial"
    event: ClassVar[str | None] = EVENT_DIAL
    numbers: tuple[str, ...] = ()
    caller_id: str | None = None
    record: bool = False
    time_limit_ms: int = 1000_000
    timeout_ms: int = 30000
    moh: str = "default"
    prompt_to_called: str | None = None
    action: str | None = None
    method: str = "GET"
    sip: tuple[str, ...] = ()
    clients: tuple[str, ...] = ()
    record_from: str = "ringing"
    record_dual: bool = True
    hangup_on_star: bool = False
    send_digits: str = ""
    ring_all: bool = False
    line: int | None = _line_field()

    def next_request(self, app: "App") -> NextRequest | None:
        """The Dial request; in KML, TwiML and Plivo without ``action`` the document carries on."""
        if app.dialect != KOOKOO and not self.action:
            return None
        return _event_request(app, EVENT_DIAL, self.action, self.method)


@dataclass(slots=True)
class Conference(Instruction):
    """Put the caller into conference ``room``. KooKoo ``conference``; KML ``Conference``.

    ``timeout_ms`` -1 means no limit. Reported as event Conference when the
    caller leaves the room while the call is still up. ``muted`` (the caller
    only listens) and ``end_on_exit`` (the room closes when this caller
    leaves) are TwiML's ``muted``/``endConferenceOnExit`` and Plivo's.
    """

    kind: ClassVar[str] = "conference"
    event: ClassVar[str | None] = EVENT_CONFERENCE
    room: str = ""
    caller_id: str | None = None
    record: bool = False
    timeout_ms: int = -1
    muted: bool = False
    end_on_exit: bool = False
    action: str | None = None
    method: str = "POST"
    line: int | None = _line_field()

    def next_request(self, app: "App") -> NextRequest | None:
        """The Conference request; in KML, TwiML and Plivo the document carries on after the room (or goes to ``action``)."""
        if app.dialect != KOOKOO:
            if self.action:
                return NextRequest(NEXT_ACTION, self.action, self.method, EVENT_CONFERENCE)
            return None
        return _event_request(app, EVENT_CONFERENCE, None, "GET")


# --- control -----------------------------------------------------------------------


@dataclass(slots=True)
class Hangup(Instruction):
    """Hang up. KooKoo ``hangup``; KML ``Hangup``. The app then gets event Disconnect."""

    kind: ClassVar[str] = "hangup"
    reason: str | None = None
    line: int | None = _line_field()

    def next_request(self, app: "App") -> NextRequest | None:
        """The call ends."""
        return END


@dataclass(slots=True)
class Reject(Instruction):
    """Refuse an unanswered inbound call (``reason``: rejected | busy). KML ``Reject``; ``ring`` seconds of
    ringing first (180, still unanswered), as a SnapCall number may ring before it refuses."""

    kind: ClassVar[str] = "reject"
    reason: str = "rejected"
    line: int | None = _line_field()
    ring: int = 0

    def next_request(self, app: "App") -> NextRequest | None:
        """The call ends."""
        return END


@dataclass(slots=True)
class GoTo(Instruction):
    """Fetch the next document from ``url``. KooKoo ``gotourl``; KML ``Redirect``.

    In KooKoo a ``gotourl`` that follows an event-producing tag does not run on
    its own: it sends that tag's event to ``url`` (see :func:`_event_request`).
    A ``gotourl`` reached on its own reports no new event (``event`` None).
    """

    kind: ClassVar[str] = "goto"
    url: str = ""
    method: str = "GET"
    line: int | None = _line_field()

    def next_request(self, app: "App") -> NextRequest | None:
        """A request to ``url``; in KooKoo None when an event tag in the document takes it as its target."""
        if app.dialect == KOOKOO:
            if any(i.event is not None for i in app.instructions):
                return None
            return NextRequest(NEXT_GOTOURL, self.url, self.method, None)
        return NextRequest(NEXT_ACTION, self.url, self.method, None)


@dataclass(slots=True)
class SendSms(Instruction):
    """Send ``text`` as SMS to ``to``; the call carries on. KooKoo ``sendsms``; KML ``Sms``."""

    kind: ClassVar[str] = "send_sms"
    text: str = ""
    to: str = ""
    line: int | None = _line_field()


def _action_only(instr: "Enqueue | DialQueue") -> NextRequest | None:
    """The instruction's event to its ``action``; None (carry on) without one."""
    if not instr.action:
        return None
    return NextRequest(NEXT_ACTION, instr.action, instr.method, instr.event)


@dataclass(slots=True)
class SendDigits(Instruction):
    """Send DTMF ``digits`` on the call (``w`` = wait 0.5 s, ``W`` = 1 s). TwiML ``Play digits``; Plivo ``DTMF``."""

    kind: ClassVar[str] = "send_digits"
    digits: str = ""
    line: int | None = _line_field()


@dataclass(slots=True)
class Enqueue(Instruction):
    """Put the caller in queue ``queue`` until an agent takes them. TwiML ``Enqueue``.

    Runs on a FreeSWITCH fifo of that name: ``Dial``/``Queue`` (a
    :class:`DialQueue`) on another call takes the longest-waiting caller.
    ``hold_music`` is an audio URL played while waiting (None: the switch's
    music on hold). When the caller leaves the queue with the call still up,
    event Enqueue goes to ``action`` (TwiML ``QueueResult``/``QueueTime``);
    without ``action`` the document carries on.
    """

    kind: ClassVar[str] = "enqueue"
    event: ClassVar[str | None] = EVENT_ENQUEUE
    queue: str = ""
    hold_music: str | None = None
    action: str | None = None
    method: str = "POST"
    line: int | None = _line_field()

    def next_request(self, app: "App") -> NextRequest | None:
        """The Enqueue request to ``action``; without one the document carries on."""
        return _action_only(self)


@dataclass(slots=True)
class DialQueue(Instruction):
    """Bridge to the caller who has waited longest in ``queue``. TwiML ``Dial``/``Queue``.

    Reported like a :class:`Dial` (to ``action`` when set; else the document carries on).
    """

    kind: ClassVar[str] = "dial_queue"
    event: ClassVar[str | None] = EVENT_DIAL
    queue: str = ""
    action: str | None = None
    method: str = "POST"
    line: int | None = _line_field()

    def next_request(self, app: "App") -> NextRequest | None:
        """The Dial request to ``action``; without one the document carries on."""
        return _action_only(self)


@dataclass(slots=True)
class PreAnswer(Instruction):
    """Play ``prompts`` (and collect digits) as early media, before the call is answered. Plivo ``PreAnswer``."""

    kind: ClassVar[str] = "pre_answer"
    prompts: tuple[Instruction, ...] = ()
    line: int | None = _line_field()


INSTRUCTION_TYPES: tuple[type[Instruction], ...] = (
    Speak, Play, Pause, CollectDigits, Recognize, Record, Dial, Conference, Hangup, Reject, GoTo, SendSms,
    SendDigits, Enqueue, DialQueue, PreAnswer,
)


@dataclass(frozen=True)
class ParseIssue:
    """One problem found in a document; used for errors and for lenient-mode warnings."""

    line: int | None
    column: int | None
    message: str

    def __str__(self) -> str:
        if self.line is None:
            return self.message
        where = f"line {self.line}" + (f", column {self.column}" if self.column else "")
        return f"{self.message} ({where})"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {"line": self.line, "column": self.column, "message": self.message}


class KmlError(ValueError):
    """A document that cannot be run; ``errors`` lists every problem found, with line and column."""

    def __init__(self, errors: list[ParseIssue]):
        self.errors = list(errors)
        super().__init__("; ".join(str(e) for e in self.errors) or "invalid document")


@dataclass
class App:
    """One parsed document: root attributes plus instructions, in document order.

    ``sid`` and ``filler`` are KooKoo's ``<response>`` attributes (filler: play
    wait music while the next document is fetched). ``warnings`` holds what a
    lenient parse skipped and what will never run (tags after an event tag).
    """

    dialect: str
    instructions: tuple[Instruction, ...] = ()
    sid: str | None = None
    filler: bool = False
    warnings: tuple[ParseIssue, ...] = field(default=(), compare=False, repr=False)

    def gotourl(self) -> GoTo | None:
        """The KooKoo ``gotourl`` that redirects this document's event, if any (the first one)."""
        for instr in self.instructions:
            if isinstance(instr, GoTo):
                return instr
        return None

    def end_request(self) -> NextRequest:
        """What follows the last instruction when none of them made a request: the call ends."""
        return END

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (what ``kml validate`` prints)."""
        return {
            "dialect": self.dialect,
            "sid": self.sid,
            "filler": self.filler,
            "instructions": [i.to_dict() for i in self.instructions],
            "warnings": [w.to_dict() for w in self.warnings],
        }
