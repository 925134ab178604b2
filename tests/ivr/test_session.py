"""freeswitch.outbound.OutboundSession against the exact bytes of a real FreeSWITCH 1.10.12 outbound session
(/work/shared/freeswitch-wire/41_outbound_async_full_session.bin), replayed over a real socket pair."""

from __future__ import annotations

import os
import re
import socket

import gevent
import pytest

from freeswitch import wire
from freeswitch.outbound import WANTED_EVENTS, CallGone, OutboundSession, fast_event

CAPTURES = os.environ.get("FREESWITCH_CAPTURES", "/work/shared/freeswitch-wire")
SESSION = os.path.join(CAPTURES, "41_outbound_async_full_session.bin")

pytestmark = pytest.mark.skipif(not os.path.exists(SESSION), reason="FreeSWITCH captures not available")


def _captured_frames() -> tuple[list[wire.Frame], list[str]]:
    """FreeSWITCH's frames in order, and the Event-UUIDs the capturing client sent (annotations removed)."""
    raw = open(SESSION, "rb").read()
    sent_uuids = re.findall(rb"^Event-UUID: (\S+)$", b"".join(
        m.group(0) for m in re.finditer(rb"^>>> [^\n]*\n(?:[^\n]+\n)*\n", raw, re.M)), re.M)
    fs_bytes = re.sub(rb"^>>> [^\n]*\n(?:[^\n]+\n)*\n", b"", raw, flags=re.M)
    return wire.split_frames(fs_bytes), [u.decode() for u in sent_uuids]


def _peer(sock: socket.socket) -> None:
    """Answer each command with its captured reply and the events that followed it, with our Event-UUIDs."""
    frames, captured_uuids = _captured_frames()
    rfile = sock.makefile("rb")
    i = 0
    uuids = iter(captured_uuids)
    while i < len(frames):
        cmd = wire.read_frame(rfile, command=True)
        if cmd is None:
            return
        ours = cmd.headers.get("Event-UUID")
        theirs = next(uuids) if ours else None
        out = [frames[i]]
        i += 1
        while i < len(frames) and frames[i].content_type not in ("command/reply", "api/response"):
            out.append(frames[i])
            i += 1
        for frame in out:
            data = b"".join(f"{k}: {v}\n".encode() for k, v in frame.headers.items()) + b"\n" + frame.body
            if theirs:
                data = data.replace(theirs.encode(), ours.encode())
            sock.sendall(data)


def test_session_reads_real_freeswitch_bytes():
    a, b = socket.socketpair()
    peer = gevent.spawn(_peer, b)
    session = OutboundSession(a)
    channel = session.start()
    # The connect reply's values are URL-encoded; each is decoded on its own.
    assert channel["variable_current_application_data"] == "127.0.0.1:8084 async full"
    assert channel["Event-Date-GMT"] == "Sun, 22 Nov 2026 06:31:46 GMT"
    assert session.uuid == "0e417eb0-b4a2-4f97-a7ba-3c26b9509f1f"
    assert "FreeSWITCH (Version 1.10.12-release" in session.api("status")
    done = session.execute("answer")
    assert done.name == "CHANNEL_EXECUTE_COMPLETE" and done.headers.get("Application") == "answer"
    played = session.execute("playback", "tone_stream://%(300,0,440)")
    assert played.headers.get("Application-Response") == "FILE PLAYED"
    assert played.headers.get("Application-Data") == "tone_stream://%(300,0,440)"
    session.hangup()
    assert session.wait_closed(5)
    assert session.hangup_cause == "NORMAL_CLEARING"
    assert session.hangup_complete.get("variable_hangup_cause_q850") == "16"
    with pytest.raises(CallGone):
        session.execute("playback", "silence_stream://10")
    session.close()
    peer.kill()
    b.close()


def test_lazy_headers_match_the_full_decoder_on_every_captured_event():
    checked = 0
    for name in sorted(os.listdir(CAPTURES)):
        if not name.startswith("evplain_"):
            continue
        frame = wire.split_frames(open(os.path.join(CAPTURES, name), "rb").read())[0]
        full = wire.parse_event(frame)
        lazy = fast_event(frame)
        assert lazy.name == full.name and lazy.body == full.body
        for header, value in full.headers.items():
            assert lazy.headers.get(header) == value, (name, header)
        assert lazy.headers.to_dict() == full.headers
        skipped = fast_event(frame, WANTED_EVENTS)
        assert (skipped is None) == (full.name not in WANTED_EVENTS)
        checked += 1
    assert checked >= 15
