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

#: KooKoo playtext ``speed`` 1..9 (the parser's default, 2, is normal speech) as SSML rates.
_SPEED_RATES = {1: "slow", 2: "medium", 3: "medium", 4: "fast", 5: "fast", 6: "x-fast", 7: "x-fast",
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


def engine_voice(voice: str | None, voice_map: dict[str, str]) -> str:
    """The engine's voice for a seed voice name (unknown names pass through: they may be engine voices)."""
    seed_voice = (voice or DEFAULT_VOICE).strip()
    return voice_map.get(seed_voice.lower(), seed_voice)


def spoken_text(text: str, *, engine: str, rate: str | None = None, pitch: str | None = None,
                volume: str | None = None, speed: int | None = None) -> str:
    """The text as the engine gets it: escaped for FreeSWITCH, in SSML prosody when the engine reads SSML."""
    if speed and not rate:
        rate = _SPEED_RATES.get(int(speed))
    prosody = {k: v for k, v in (("rate", _norm(rate, "rate")), ("pitch", _norm(pitch, "pitch")),
                                 ("volume", _norm(volume, "volume"))) if v and v != "medium"}
    # The app's text is escaped first; the markup around it is ours.
    body = kml.escape_fs_arg(text)
    if prosody and engine not in SSML_ENGINES_EXCLUDED:
        attrs = " ".join(f'{k}="{v}"' for k, v in prosody.items())
        body = f"<speak><prosody {attrs}>{_xml_escape(body)}</prosody></speak>"
    return body


def speak_arg(text: str, *, engine: str, voice_map: dict[str, str], voice: str | None = None,
              rate: str | None = None, pitch: str | None = None, volume: str | None = None,
              speed: int | None = None) -> str:
    """The argument of the ``speak`` application: ``engine|voice|text``."""
    body = spoken_text(text, engine=engine, rate=rate, pitch=pitch, volume=volume, speed=speed)
    return f"{engine}|{engine_voice(voice, voice_map)}|{body}"


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
