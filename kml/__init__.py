"""KooKoo XML, KML, TwiML and Plivo XML apps parsed into one typed instruction model.

Entry points:

* :func:`parse` — bytes of a KooKoo or KML document → :class:`App`, or :class:`KmlError`;
* :func:`to_xml` — :class:`App` → document bytes (round-trips through :func:`parse`);
* :func:`substitute` — fill ``{field1}`` / ``$flow.key.<Name>`` templates;
* :func:`escape_fs_arg` — make a value safe as a FreeSWITCH application argument
  (:func:`escape_xml` for XML); :class:`TemplateError` for a missing variable.

The model (:mod:`kml.model`) is what the IVR runtime executes.
"""

from kml.model import (  # noqa: F401
    DIALECTS, END, EVENT_CONFERENCE, EVENT_DIAL, EVENT_DISCONNECT, EVENT_ENQUEUE, EVENT_GOT_DTMF, EVENT_HANGUP,
    EVENT_NEW_CALL, EVENT_RECOGNIZE, EVENT_RECORD, INSTRUCTION_TYPES, KML, KML_EVENT_PARAMS, KOOKOO,
    KOOKOO_EVENT_PARAMS, NEXT_ACTION, NEXT_END, NEXT_GOTOURL, NEXT_SAME_URL, PLIVO, TWIML, App, CollectDigits,
    Conference, Dial, DialQueue, Enqueue, GoTo, Hangup, Instruction, KmlError, NextRequest, ParseIssue, Pause,
    Play, PreAnswer, Recognize, Record, Reject, SendDigits, SendSms, Speak,
)

#: Largest document accepted, in bytes (customer documents come from the internet).
MAX_BYTES = 1024 * 1024
#: Deepest element nesting accepted (the deepest legal document nests 3 levels).
MAX_DEPTH = 16


def parse(data: bytes | str, dialect: str | None = None, *, lenient: bool = False,
          max_bytes: int = MAX_BYTES, max_depth: int = MAX_DEPTH) -> App:
    """Parse a KooKoo or KML document into an :class:`App`; raises :class:`KmlError`.

    ``dialect`` is ``"kookoo"``, ``"kml"``, ``"twiml"``, ``"plivo"`` or None to
    detect it from the document (see :mod:`kml.parser`). ``lenient`` skips unknown tags and
    attributes with a warning (``App.warnings``) instead of failing.
    """
    return _parser.parse(data, dialect, lenient=lenient, max_bytes=max_bytes, max_depth=max_depth)


# Imported after the names above: these modules import kml.model, not this package's functions.
from kml import parser as _parser  # noqa: E402
from kml.serialize import SerializeError, to_xml  # noqa: E402,F401
from kml.template import TemplateError, escape_fs_arg, escape_xml, placeholders, substitute  # noqa: E402,F401
