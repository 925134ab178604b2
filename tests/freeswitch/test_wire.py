"""The ESL codec against the bytes a real FreeSWITCH 1.10.12 sent (../shared/freeswitch-wire)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from freeswitch import wire

CAPTURES = Path(__file__).resolve().parents[3] / "shared" / "freeswitch-wire"
if not CAPTURES.is_dir():  # a checkout elsewhere: the captures' usual home
    CAPTURES = Path("/work/shared/freeswitch-wire")

pytestmark = pytest.mark.skipif(not CAPTURES.is_dir(), reason="FreeSWITCH captures not available")


def single_frames():
    names = sorted(p.name for p in CAPTURES.glob("*.bin"))
    return [n for n in names if not n.startswith(("20_", "21_", "22_", "41_"))]


@pytest.mark.parametrize("name", single_frames())
def test_each_capture_is_exactly_one_frame(name):
    data = (CAPTURES / name).read_bytes()
    frames = wire.split_frames(data)
    assert len(frames) == 1
    headers, body = frames[0]
    assert headers["Content-Type"]
    if "Content-Length" in headers:
        assert len(body) == int(headers["Content-Length"])


def _plain_pairs(payload: bytes):
    head = payload.partition(b"\n\n")[0]
    pairs = []
    for line in head.decode().split("\n"):
        name, _, value = line.partition(": ")
        if name != "Content-Length":
            pairs.append((name, wire.url_decode(value)))
    return pairs


def plain_event_captures():
    out = []
    for name in single_frames():
        if wire.split_frames((CAPTURES / name).read_bytes())[0].content_type == "text/event-plain":
            out.append(name)
    return out


@pytest.mark.parametrize("name", plain_event_captures())
def test_plain_events_reserialize_byte_for_byte(name):
    data = (CAPTURES / name).read_bytes()
    frame = wire.split_frames(data)[0]
    assert frame.content_type == "text/event-plain"
    event = wire.parse_event(frame)
    payload = wire.serialize_event_plain(_plain_pairs(frame.body), event.body or None)
    assert wire.event_frame(payload, "plain") == data


@pytest.mark.parametrize("name", [n for n in single_frames() if n.startswith("evjson_")])
def test_json_events_reserialize_byte_for_byte(name):
    data = (CAPTURES / name).read_bytes()
    frame = wire.split_frames(data)[0]
    pairs = json.loads(frame.body, object_pairs_hook=lambda p: p)
    headers = [(k, v) for k, v in pairs if k not in ("Content-Length", "_body")]
    body = dict(pairs).get("_body")
    assert wire.event_frame(wire.serialize_event_json(headers, body), "json") == data


def test_background_job_body_is_separated_from_headers():
    frame = wire.split_frames((CAPTURES / "evplain_BACKGROUND_JOB.bin").read_bytes())[0]
    event = wire.parse_event(frame)
    assert event.name == "BACKGROUND_JOB"
    assert event.headers["Job-Command-Arg"] == "loopback/9199/default &park()"
    assert event.body == "+OK b9ea7a95-5b51-49ba-bda4-15e62214894d\n"
    json_event = wire.parse_event(wire.split_frames((CAPTURES / "evjson_BACKGROUND_JOB.bin").read_bytes())[0])
    assert json_event.body == event.body
    assert json_event.headers["Job-UUID"] == event.headers["Job-UUID"]


def test_fixed_frames_match_captures():
    assert wire.auth_request() == (CAPTURES / "01_auth_request_banner.bin").read_bytes()
    assert wire.command_reply("+OK accepted") == (CAPTURES / "02_auth_reply_ok.bin").read_bytes()
    assert wire.command_reply("-ERR invalid") == (CAPTURES / "09_auth_reply_invalid.bin").read_bytes()
    assert wire.command_reply("+OK bye") == (CAPTURES / "07_exit_reply.bin").read_bytes()
    assert wire.disconnect_notice() == (CAPTURES / "08_disconnect_notice.bin").read_bytes()
    assert wire.api_response("-ERR no_such_command Command not found!\n") == (
        CAPTURES / "06_api_unknown_command_reply.bin"
    ).read_bytes()
    job = "3ccd5099-e4ee-4eaa-bea3-f2947b4c1b17"
    assert wire.command_reply(f"+OK Job-UUID: {job}", ("Job-UUID", job)) == (CAPTURES / "13_bgapi_reply.bin").read_bytes()
    assert wire.linger_notice("0e417eb0-b4a2-4f97-a7ba-3c26b9509f1f", "loopback/7000-b") == (
        CAPTURES / "40_outbound_async_text_disconnect-notice.bin"
    ).read_bytes()


def test_streams_split_into_frames_of_known_types():
    for name in ("20_plain_ALL_stream_full.bin", "21_json_stream_full.bin", "41_outbound_async_full_session.bin"):
        data = (CAPTURES / name).read_bytes()
        # 41 carries the client's side as '>>> ' annotation lines; drop them.
        if name.startswith("41_"):
            data = _strip_annotations(data)
        frames = wire.split_frames(data)
        assert len(frames) > 5
        for frame in frames:
            assert frame.content_type in {
                "auth/request", "command/reply", "api/response", "text/event-plain",
                "text/event-json", "text/disconnect-notice",
            }
            if frame.content_type.startswith("text/event-"):
                assert wire.parse_event(frame).name


def _strip_annotations(data: bytes) -> bytes:
    out, skipping = [], False
    for line in data.split(b"\n"):
        if line.startswith(b">>> "):
            skipping = True
            continue
        if skipping:
            # the annotated command's own header lines and its blank terminator
            if line == b"":
                skipping = False
            continue
        out.append(line)
    return b"\n".join(out)


@pytest.mark.parametrize(
    "raw, encoded",
    [
        ("2026-11-22 06:31:22", "2026-11-22%2006%3A31%3A22"),
        ("tone_stream://%(300,0,440)", "tone_stream%3A//%25(300,0,440)"),
        ("+OK\n", "%2BOK%0A"),
        ('"Outbound Call" <default>', "%22Outbound%20Call%22%20%3Cdefault%3E"),
        ("a&b=c;d?e@f[g]h{i}j|k^l`m\\n#o", "a%26b%3Dc%3Bd%3Fe%40f%5Bg%5Dh%7Bi%7Dj%7Ck%5El%60m%5Cn%23o"),
        ("नमस्ते", "%E0%A4%A8%E0%A4%AE%E0%A4%B8%E0%A5%8D%E0%A4%A4%E0%A5%87"),
        ("plain-text_(1,2)/x.y*'!$~", "plain-text_(1,2)/x.y*'!$~"),
        ("\t\x7f", "%09%7F"),
    ],
)
def test_url_encoding_matches_freeswitch(raw, encoded):
    assert wire.url_encode(raw) == encoded
    assert wire.url_decode(encoded) == raw


def test_url_decode_leaves_plus_and_stray_percent():
    assert wire.url_decode("a+b%") == "a+b%"
    assert wire.url_decode("100%zz") == "100%zz"


def test_empty_value_serializes_as_undef():
    assert wire.serialize_event_plain([("Event-Name", "X"), ("Empty", "")]) == b"Event-Name: X\nEmpty: _undef_\n\n"


def test_read_command_frames_as_freeswitch_does():
    stream = io.BytesIO(
        b"\n\r\napi status\n\n"
        b"sendmsg 1234\r\ncall-command: execute\r\nexecute-app-name: playback\r\ncontent-length: 5\r\n\r\nhello"
        b"exit\n\n"
    )
    api = wire.read_frame(stream, command=True)
    assert api.headers == {"Command": "api status"}
    msg = wire.read_frame(stream, command=True)
    assert msg.headers["Command"] == "sendmsg 1234"
    assert msg.headers["execute-app-name"] == "playback"
    assert msg.body == b"hello"
    assert wire.read_frame(stream, command=True).headers == {"Command": "exit"}
    assert wire.read_frame(stream, command=True) is None


def test_truncated_frame_is_a_protocol_error():
    with pytest.raises(wire.ProtocolError):
        wire.read_frame(io.BytesIO(b"Content-Type: api/response\nContent-Length: 10\n\nabc"))
    with pytest.raises(wire.ProtocolError):
        wire.read_frame(io.BytesIO(b"Content-Type: api/response\nContent-Length: x\n\n"))


def test_encode_command_refuses_newlines_and_adds_content_length():
    assert wire.encode_command("api status") == b"api status\n\n"
    assert wire.encode_command("sendmsg u", [("call-command", "execute")], "body") == (
        b"sendmsg u\ncall-command: execute\ncontent-length: 4\n\nbody"
    )
    with pytest.raises(ValueError):
        wire.encode_command("api status\n\nexit")


@pytest.mark.parametrize("name", [n for n in single_frames() if n.startswith("evjson_")])
def test_json_and_plain_captures_read_as_the_same_event(name):
    # The captures hold the same FreeSWITCH event in both formats: a reader may switch formats freely.
    plain = wire.parse_event(wire.split_frames((CAPTURES / name.replace("evjson_", "evplain_")).read_bytes())[0])
    as_json = wire.parse_event(wire.split_frames((CAPTURES / name).read_bytes())[0])
    assert as_json.headers == plain.headers
    assert as_json.body == plain.body


def test_json_event_values_are_strings_and_body_is_apart():
    event = wire.parse_event_json(b'{"Event-Name":"X","Multi":["a","b"],"Content-Length":"3","_body":"+OK"}')
    assert event.headers == {"Event-Name": "X", "Multi": '["a", "b"]', "Content-Length": "3"}
    assert event.body == "+OK"
    with pytest.raises(wire.ProtocolError):
        wire.parse_event_json(b"[1]")
    with pytest.raises(wire.ProtocolError):
        wire.parse_event_json(b"{")


def _decode_byte_by_byte(value: str) -> str:
    # switch_url_decode's rule, spelled out: %XX with two hex digits is a byte, anything else stays.
    raw, out, i = value.encode("utf-8"), bytearray(), 0
    while i < len(raw):
        pair = raw[i + 1:i + 3]
        if raw[i] == 0x25 and len(pair) == 2 and all(chr(c) in "0123456789abcdefABCDEF" for c in pair):
            out.append(int(pair, 16))
            i += 3
        else:
            out.append(raw[i])
            i += 1
    return out.decode("utf-8", "replace")


@pytest.mark.parametrize("value", ["%", "%4", "%41", "a%4g%41", "%%41", "%e0%a4%a8", "%FF%FE", "%E0%A4",
                                   "é%C3%A9x", "100%", "%0A%0d%25", "+%2B+"])
def test_url_decode_edge_cases(value):
    assert wire.url_decode(value) == _decode_byte_by_byte(value)


def test_plain_event_value_with_an_encoded_line_break_stays_one_header():
    payload = wire.serialize_event_plain([("Event-Name", "X"), ("Multi", "line one\nline: two"), ("Empty", "")])
    event = wire.parse_event_plain(payload)
    assert event.headers == {"Event-Name": "X", "Multi": "line one\nline: two", "Empty": "_undef_"}
