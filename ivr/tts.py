"""Speech: the seeds' voice names mapped to the installed engine, and the ``speak``/``say`` arguments.

The seeds (002, 000) name Amazon Polly voices (Joanna, Raveena, Matthew, ...)
with SSML-style ``rate``/``pitch``/``volume``. FreeSWITCH's ``speak``
application takes ``engine|voice|text``; the engine (``TTS_ENGINE``) and a voice
map (``TTS_VOICE_MAP``, ``Seed=engine_voice,...``) translate one into the other.
Engines that read SSML (anything but flite) get the prosody as
``<speak><prosody ...>``; flite reads plain text only, so prosody is dropped
there rather than spoken aloud as markup.
"""

from __future__ import annotations

from xml.sax.saxutils import escape as _xml_escape

import kml

#: Seed voice → flite voice (flite ships kal, slt, rms, awb): female voices to slt, male to rms.
DEFAULT_VOICE_MAP = {
    "joanna": "slt", "raveena": "slt", "aditi": "slt", "kendra": "slt", "kimberly": "slt", "salli": "slt",
    "ivy": "slt", "amy": "slt", "emma": "slt", "nicole": "slt", "female": "slt",
    "matthew": "rms", "joey": "rms", "justin": "rms", "brian": "rms", "russell": "rms", "male": "rms",
}
DEFAULT_VOICE = "Joanna"
SSML_ENGINES_EXCLUDED = ("flite",)

#: KooKoo speed 1..9 (5 normal) as SSML rates.
_SPEED_RATES = {1: "x-slow", 2: "x-slow", 3: "slow", 4: "slow", 5: "medium", 6: "fast", 7: "fast",
                8: "x-fast", 9: "x-fast"}
_PROSODY_VALUES = {
    "rate": ("x-slow", "slow", "medium", "fast", "x-fast"),
    "pitch": ("x-low", "low", "medium", "high", "x-high"),
    "volume": ("silent", "x-soft", "soft", "medium", "loud", "x-loud"),
}


def parse_voice_map(text: str) -> dict[str, str]:
    """``Joanna=slt,Matthew=rms`` → {"joanna": "slt", ...} merged over the built-in map; bad entries raise ValueError."""
    mapping = dict(DEFAULT_VOICE_MAP)
    for item in filter(None, (p.strip() for p in (text or "").split(","))):
        seed, sep, voice = item.partition("=")
        if not sep or not seed.strip() or not voice.strip():
            raise ValueError(f"TTS_VOICE_MAP entry {item!r} is not Seed=voice")
        mapping[seed.strip().lower()] = voice.strip()
    return mapping


def _norm(value: str | None, kind: str) -> str | None:
    if not value:
        return None
    v = value.strip().lower().replace(" ", "")  # the seeds write 'x- soft'
    return v if v in _PROSODY_VALUES[kind] else None


def speak_arg(text: str, *, engine: str, voice_map: dict[str, str], voice: str | None = None,
              rate: str | None = None, pitch: str | None = None, volume: str | None = None,
              speed: int | None = None) -> str:
    """The argument of the ``speak`` application: ``engine|voice|text`` (text escaped for FreeSWITCH)."""
    seed_voice = (voice or DEFAULT_VOICE).strip()
    engine_voice = voice_map.get(seed_voice.lower(), seed_voice)
    if speed and not rate:
        rate = _SPEED_RATES.get(int(speed))
    prosody = {k: v for k, v in (("rate", _norm(rate, "rate")), ("pitch", _norm(pitch, "pitch")),
                                 ("volume", _norm(volume, "volume"))) if v and v != "medium"}
    body = text
    if prosody and engine not in SSML_ENGINES_EXCLUDED:
        attrs = " ".join(f'{k}="{v}"' for k, v in prosody.items())
        body = f"<speak><prosody {attrs}>{_xml_escape(text)}</prosody></speak>"
    return f"{engine}|{engine_voice}|{kml.escape_fs_arg(body)}"


#: KooKoo say-as ``format`` codes and words → (say type, say method) of mod_say.
_SAY_FORMATS = {
    "501": ("NUMBER", "iterated"),   # digit by digit
    "502": ("NUMBER", "pronounced"),
    "503": ("CURRENCY", "pronounced"),
    "504": ("SHORT_DATE_TIME", "pronounced"),
    "digits": ("NUMBER", "iterated"),
    "number": ("NUMBER", "pronounced"),
    "currency": ("CURRENCY", "pronounced"),
    "date": ("CURRENT_DATE", "pronounced"),
    "time": ("CURRENT_TIME", "pronounced"),
}


def say_arg(text: str, say_as: str, lang: str | None = None) -> str:
    """The argument of the ``say`` application: ``<lang> <type> <method> <text>``."""
    say_type, method = _SAY_FORMATS.get(str(say_as).strip().lower(), ("NUMBER", "iterated"))
    module = (lang or "en").split("-")[0].split("_")[0].lower() or "en"
    return f"{module} {say_type} {method} {kml.escape_fs_arg(text)}"
