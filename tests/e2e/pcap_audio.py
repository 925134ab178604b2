"""RTP audio for sipp's ``play_pcap_audio``: a person's "hello?" and an answering machine's greeting and beep.

sipp ships speech (g711a.pcap) and DTMF captures, but nothing that sounds like a person who says one word
and waits, or a voicemail greeting that ends in a beep. These are made here, as PCMA (G.711 A-law) RTP in
a pcap file (Ethernet/IPv4/UDP, 20 ms packets), from synthetic signals: "speech" is a few tones whose
loudness moves at a syllable rate and never drops to silence (its mean absolute sample value stays far
above FreeSWITCH's energy thresholds, as a voice does), the beep a steady 1000 Hz tone, silence A-law's
zero. What the detectors measure is energy per frame and, for mod_avmd, a steady frequency: the
signals have exactly those properties.
"""

from __future__ import annotations

import math
import struct
from pathlib import Path

RATE = 8000
FRAME = 160  # samples per 20 ms packet


def _alaw(sample: int) -> int:
    """One 16-bit linear sample as G.711 A-law (ITU-T G.711's segment encoding)."""
    value = sample >> 3  # 13-bit
    if value >= 0:
        mask = 0xD5
    else:
        mask, value = 0x55, -value - 1
    if value < 32:
        code = value >> 1
    elif value >= 4096:
        code = 0x7F
    else:
        exponent = value.bit_length() - 5
        code = (exponent << 4) | ((value >> exponent) & 0x0F)
    return code ^ mask


def speech(seconds: float, level: float = 6000.0) -> list[int]:
    """Voice-like sound: three formant-ish tones under a 4 Hz syllable envelope that stays above 40 %."""
    out = []
    for n in range(int(seconds * RATE)):
        t = n / RATE
        envelope = 0.7 + 0.3 * math.sin(2 * math.pi * 4 * t)
        value = (math.sin(2 * math.pi * 310 * t) + 0.6 * math.sin(2 * math.pi * 870 * t)
                 + 0.3 * math.sin(2 * math.pi * 2300 * t)) / 1.9
        out.append(int(level * envelope * value))
    return out


def tone(seconds: float, hz: float = 1000.0, level: float = 12000.0) -> list[int]:
    """A steady sine: a voicemail beep."""
    return [int(level * math.sin(2 * math.pi * hz * n / RATE)) for n in range(int(seconds * RATE))]


def silence(seconds: float) -> list[int]:
    """Digital silence (sent, so the far end keeps sending RTP as a phone does)."""
    return [0] * int(seconds * RATE)


def write_pcap(path: Path, samples: list[int], ssrc: int = 0x5A5A0001) -> Path:
    """``samples`` as a pcap of PCMA RTP packets, 20 ms apart."""
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    src, dst = bytes([127, 0, 0, 1]), bytes([127, 0, 0, 1])
    for i in range(0, len(samples) - FRAME + 1, FRAME):
        payload = bytes(_alaw(s) for s in samples[i:i + FRAME])
        seq = i // FRAME
        rtp = struct.pack("!BBHII", 0x80, 8, seq & 0xFFFF, i & 0xFFFFFFFF, ssrc) + payload
        udp = struct.pack("!HHHH", 16000, 16002, 8 + len(rtp), 0) + rtp
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), seq & 0xFFFF, 0, 64, 17, 0, src, dst) + udp
        frame = b"\x00" * 12 + b"\x08\x00" + ip
        usec = seq * 20000
        out.append(struct.pack("<IIII", usec // 1_000_000, usec % 1_000_000, len(frame), len(frame)) + frame)
    path.write_bytes(b"".join(out))
    return path


def speaker(path: Path, wav: str) -> Path:
    """A caller answering a question: 1.5 s of silence, the 8 kHz 16-bit mono WAV ``wav``, then 20 s of silence."""
    import array
    import wave

    with wave.open(wav, "rb") as w:
        if (w.getframerate(), w.getsampwidth(), w.getnchannels()) != (RATE, 2, 1):
            raise ValueError(f"{wav}: 8 kHz 16-bit mono expected")
        samples = array.array("h", w.readframes(w.getnframes())).tolist()
    return write_pcap(path, silence(1.5) + samples + silence(20))


def person(path: Path) -> Path:
    """A person: a moment's pause, "hello?" (0.6 s), then waiting in silence for 20 s."""
    return write_pcap(path, silence(0.8) + speech(0.6) + silence(20))


def machine(path: Path) -> Path:
    """An answering machine: a 7 s greeting, a short pause, a 0.6 s beep at 1000 Hz, then recording (silence)."""
    return write_pcap(path, silence(0.4) + speech(7.0) + silence(0.4) + tone(0.6) + silence(20))
