"""The originate string: variables, quoting, the socket application."""

import pytest

from dialer.originate import Originate, OriginateError, quote_value, variables_block
from ivr.call_spec import CallSpec


def _fs_split(block: str) -> dict[str, str]:
    """Read a ``{a=b,...}`` block back the way switch_separate_string does (quotes group, backslash escapes)."""
    assert block[0] == "{" and block[-1] == "}"
    inner = block[1:-1]
    items, cur, quoted, i = [], "", False, 0
    while i < len(inner):
        c = inner[i]
        if c == "\\" and i + 1 < len(inner):
            cur += inner[i + 1]
            i += 2
            continue
        if c == "'":
            quoted = not quoted
        elif c == "," and not quoted:
            items.append(cur)
            cur = ""
        else:
            cur += c
        i += 1
    items.append(cur)
    return dict(item.split("=", 1) for item in items)


def _spec(**kw):
    base = dict(call_type="campaign", request_id="R1", attempt_id="A1",
                fields={"name": "O'Brien, Jr.", "city": "Zürich {x}"})
    base.update(kw)
    return CallSpec(**base)


def test_command_has_every_variable_and_quoted_socket():
    o = Originate(call_uuid="6f1c1c52-4a7e-4b43-9d8e-1d0a7f1e2b3c", number="+919979270000",
                  gateway="vaani_trunk", caller_id="15168148111", spec=_spec(),
                  ivr_address="127.0.0.1:8084", originate_timeout=30, key_prefix="pfx", worker_id="w1")
    cmd = o.command()
    assert cmd.startswith("originate {")
    dial, app = cmd[len("originate "):].split(" ", 1)
    assert app == "&socket('127.0.0.1:8084 async full')"
    block, target = dial.rsplit("}", 1)
    assert target == "sofia/gateway/vaani_trunk/919979270000"  # DIALER_NUMBER_FORMAT e164: no +
    vars_ = _fs_split(block + "}")
    assert vars_["origination_uuid"] == o.call_uuid
    assert vars_["origination_caller_id_number"] == "15168148111"
    assert vars_["originate_timeout"] == "30"
    assert vars_["ignore_early_media"] == "true"
    assert vars_["vaani_request_id"] == "R1"
    assert vars_["vaani_attempt_id"] == "A1"
    assert vars_["vaani_prefix"] == "pfx"
    # The spec with commas, quotes, braces and non-ASCII survives intact.
    assert CallSpec.decode(vars_["vaani_call"]).fields == {"name": "O'Brien, Jr.", "city": "Zürich {x}"}


def test_quoting_of_values_with_blanks():
    values = {"d": "with space", "e": "plain-value_1.2", "f": 'say "hi" (50%) & go;'}
    assert _fs_split(variables_block(values)) == values
    assert quote_value("plain-value_1.2") == "plain-value_1.2"


@pytest.mark.parametrize("bad", ["a}b", "a{b", "line\nbreak", "[x]", "it's", "x,y", "back\\slash", "${x}",
                                 "^^:a", " padded"])
def test_unescapable_values_are_refused(bad):
    with pytest.raises(OriginateError):
        quote_value(bad)


@pytest.mark.parametrize("field,value", [("number", "12ab"), ("gateway", "gw/../x"), ("ivr_address", "host"),
                                         ("call_uuid", "not-a-uuid"), ("originate_timeout", 0)])
def test_bad_inputs_get_clear_errors(field, value):
    kw = dict(call_uuid="6f1c1c52-4a7e-4b43-9d8e-1d0a7f1e2b3c", number="+15551234567", gateway="gw",
              caller_id=None, spec=_spec(), ivr_address="127.0.0.1:8084")
    kw[field] = value
    with pytest.raises(OriginateError):
        Originate(**kw).command()


def test_every_value_written_reaches_the_channel_intact(simulator):
    # Through the simulator's port of FreeSWITCH's parsing: the API's blank split, the block's comma
    # split and the '=' split, each stripping quotes and escapes.
    import uuid

    from freeswitch.inbound import InboundClient

    call_uuid = str(uuid.uuid4())
    values = {"vaani_a": "with space", "vaani_b": 'say "hi" (50%) & go;', "vaani_c": "Zürich = 8000",
              "vaani_d": "+15168148111"}
    block = variables_block({"origination_uuid": call_uuid, **values})
    client = InboundClient(simulator.host, simulator.port, simulator.password).start()
    try:
        client.wait_connected(10)
        reply = client.api(f"originate {block}sofia/gateway/vaani_trunk/+15550001234 &park()", timeout=10)
        assert reply.startswith("+OK"), reply
        for name, value in values.items():
            assert client.api(f"uuid_getvar {call_uuid} {name}").rstrip("\n") == value, name
        client.api(f"uuid_kill {call_uuid}")
    finally:
        client.stop()
