"""Recordings as recognisers want them: 16 kHz, 16-bit, mono PCM.

FreeSWITCH's ``record`` writes the channel's codec rate (8 kHz for PCMU/PCMA trunks, 16 kHz for
G.722), and a ``record_session`` with ``RECORD_STEREO`` writes two channels (one per party). The
PocketSphinx model was trained on 16 kHz audio and its filter bank reaches 6.8 kHz: telephone audio
is upsampled (the band above 4 kHz stays empty, which the model tolerates far better than a
narrower filter bank would).
"""

from __future__ import annotations

import array
import sys
import wave

from ivr.speech import SpeechError

RATE = 16000
#: Silence trimming: 20 ms frames, a frame is speech above this RMS, and this much margin is kept.
FRAME = RATE // 50
SPEECH_RMS = 100
MARGIN_FRAMES = 25

try:  # audioop is C and fast; it left the standard library in Python 3.13
    import audioop as _audioop  # noqa: F401
except ImportError:  # pragma: no cover - Python 3.13+
    _audioop = None


def read_pcm16k(path: str) -> tuple[bytes, float]:
    """The WAV at ``path`` as 16 kHz mono signed 16-bit little-endian PCM, and its length in seconds."""
    try:
        with wave.open(path, "rb") as w:
            channels, width, rate = w.getnchannels(), w.getsampwidth(), w.getframerate()
            frames = w.readframes(w.getnframes())
    except (wave.Error, EOFError) as exc:
        raise SpeechError(f"{path}: not a PCM WAV file ({exc})") from None
    except OSError as exc:
        raise SpeechError(f"{path}: {exc.strerror or exc}") from None
    if width != 2:
        raise SpeechError(f"{path}: {8 * width}-bit samples (16-bit PCM expected)")
    seconds = len(frames) / (2 * channels * rate) if rate else 0.0
    samples = array.array("h", frames)
    if sys.byteorder == "big":  # pragma: no cover
        samples.byteswap()
    if channels == 2:
        samples = _mix(samples)
    elif channels != 1:
        raise SpeechError(f"{path}: {channels} channels (mono or stereo expected)")
    if rate != RATE:
        samples = _resample(samples, rate, RATE)
    if sys.byteorder == "big":  # pragma: no cover
        samples.byteswap()
    return samples.tobytes(), seconds


def trim_silence(pcm: bytes) -> bytes:
    """``pcm`` (16 kHz mono) without the silence before and after the speech, a 0.5 s margin kept.

    ``record`` stops only after the caller has been silent for its ``silence_hits`` seconds, so every
    utterance ends with seconds of line noise; decoded, they spread the grammar's posterior over more
    hypotheses and cost time. All silence: returned as it is (the engine then finds nothing).
    """
    samples = array.array("h", pcm)
    frames = len(samples) // FRAME
    loud = [i for i in range(frames) if _rms(samples, i * FRAME) > SPEECH_RMS]
    if not loud:
        return pcm
    start = max(0, loud[0] - MARGIN_FRAMES) * FRAME
    end = min(len(samples), (loud[-1] + 1 + MARGIN_FRAMES) * FRAME)
    return samples[start:end].tobytes()


def _rms(samples: array.array, at: int) -> float:
    chunk = samples[at:at + FRAME]
    if _audioop is not None:
        return _audioop.rms(chunk.tobytes(), 2)
    return (sum(v * v for v in chunk) / max(1, len(chunk))) ** 0.5


def _mix(stereo: array.array) -> array.array:
    """Both parties of a stereo recording in one channel (the sum, clipped)."""
    if _audioop is not None:
        return array.array("h", _audioop.tomono(stereo.tobytes(), 2, 1, 1))
    out = array.array("h", bytes(len(stereo)))  # half as many 2-byte samples
    for i in range(len(out)):
        out[i] = max(-32768, min(32767, stereo[2 * i] + stereo[2 * i + 1]))
    return out


def _resample(samples: array.array, src: int, dst: int) -> array.array:
    """Linear-interpolation resampling (speech bands only; the model's features smooth the rest)."""
    if _audioop is not None:
        return array.array("h", _audioop.ratecv(samples.tobytes(), 2, 1, src, dst, None)[0])
    n = len(samples)
    if n == 0:
        return samples
    count = int(n * dst / src)
    out = array.array("h", bytes(2 * count))
    step = src / dst
    for i in range(count):
        pos = i * step
        j = int(pos)
        frac = pos - j
        a = samples[j]
        b = samples[j + 1] if j + 1 < n else a
        out[i] = int(a + (b - a) * frac)
    return out
