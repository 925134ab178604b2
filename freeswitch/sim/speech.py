"""Far ends that speak: real audio for ``record`` and ``record_session``.

A far end's ``speech`` (scenario key, or ``sim_speech`` with entries separated by ``|``) is a list of
utterances, said one per ``record`` in order: each is the path of a WAV file, or ``say:<text>``
synthesised with flite (voice ``kal``, 8 kHz like a telephone line) or, without flite, espeak-ng. The
recording is that audio followed by the silence the caller leaves until the recording stops; the talk
time is the utterance's own length. A ``record_session`` gets every utterance of both parties of the
bridge, one after the other. Synthesised files are cached by text under the temporary directory.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import wave

SAY = "say:"
FLITE_VOICE = os.environ.get("SIM_FLITE_VOICE", "kal")


class SpeechUnavailable(Exception):
    """An utterance that cannot be had: no synthesiser installed, a missing or unreadable WAV."""


def parse(spec) -> list[str]:
    """Utterances from a list or a ``|``-separated string."""
    if spec is None or spec == "":
        return []
    items = spec.split("|") if isinstance(spec, str) else list(spec)
    return [str(i).strip() for i in items if str(i).strip()]


def synthesiser() -> str | None:
    """The TTS program the simulator uses (flite, else espeak-ng), None when neither is installed."""
    for tool in ("flite", "espeak-ng"):
        if shutil.which(tool):
            return tool
    return None


def audio_path(utterance: str) -> str:
    """A WAV file for one utterance (synthesised once per text)."""
    if not utterance.lower().startswith(SAY):
        if not os.path.isfile(utterance):
            raise SpeechUnavailable(f"speech file {utterance} not found")
        return utterance
    text = utterance[len(SAY):].strip()
    tool = synthesiser()
    if tool is None:
        raise SpeechUnavailable("neither flite nor espeak-ng is installed (apt-get install flite)")
    key = hashlib.sha1(f"{tool}|{FLITE_VOICE}|{text}".encode()).hexdigest()[:20]
    directory = os.path.join(tempfile.gettempdir(), "vaani-sim-speech")
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, key + ".wav")
    if not os.path.exists(path):
        tmp = f"{path}.{os.getpid()}.tmp"
        cmd = (["flite", "-voice", FLITE_VOICE, "-t", text, "-o", tmp] if tool == "flite"
               else ["espeak-ng", "-v", "en-us", "-w", tmp, text])
        try:
            subprocess.run(cmd, check=True, capture_output=True, timeout=30)
        except (OSError, subprocess.SubprocessError) as exc:
            raise SpeechUnavailable(f"{tool} failed: {exc}") from None
        os.replace(tmp, path)
    return path


def read(path: str) -> tuple[bytes, int]:
    """Mono 16-bit frames and rate of a WAV (the first channel of a stereo file)."""
    try:
        with wave.open(path, "rb") as w:
            frames, rate, channels, width = w.readframes(w.getnframes()), w.getframerate(), w.getnchannels(), \
                w.getsampwidth()
    except (wave.Error, EOFError, OSError) as exc:
        raise SpeechUnavailable(f"{path}: {exc}") from None
    if width != 2:
        raise SpeechUnavailable(f"{path}: 16-bit PCM expected")
    if channels > 1:
        step = 2 * channels
        frames = b"".join(frames[i:i + 2] for i in range(0, len(frames), step))
    return frames, rate


def seconds(utterance: str) -> float:
    """How long an utterance lasts."""
    frames, rate = read(audio_path(utterance))
    return len(frames) / (2 * rate)


def write(path: str, utterances: list[str], total_seconds: float) -> None:
    """A mono WAV of ``total_seconds`` at the utterances' rate: each utterance in turn, then silence."""
    parts = [read(audio_path(u)) for u in utterances]
    rate = parts[0][1] if parts else 8000
    body = b"".join(f for f, r in parts if r == rate)  # the first utterance's rate decides
    total = int(round(total_seconds * rate))  # the recording stopped then, mid-word or not
    directory = os.path.dirname(path)
    if directory:
        os.makedirs(directory, exist_ok=True)
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(body[: 2 * total])
        w.writeframes(bytes(max(0, 2 * total - len(body))))


def next_utterance(channel) -> str | None:
    """The next thing the far end of ``channel`` says when recorded (None: it has no speech, or said it all)."""
    b = channel.behaviour
    said = channel.__dict__.get("speech_said", 0)
    if b is None or said >= len(b.speech):
        return None
    channel.__dict__["speech_said"] = said + 1
    return b.speech[said]


def all_utterances(*channels) -> list[str]:
    """Every utterance of these channels' far ends (a session recording hears both parties)."""
    out: list[str] = []
    for ch in channels:
        if ch is not None and ch.behaviour is not None:
            out.extend(ch.behaviour.speech)
    return out
