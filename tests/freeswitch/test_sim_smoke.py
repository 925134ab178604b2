"""The simulator fixture starts a simulator that answers ESL over TCP."""

from __future__ import annotations

import socket

import pytest

from freeswitch import wire


def test_fixture_simulator_speaks_esl(simulator):
    with socket.create_connection((simulator.host, simulator.port), timeout=5) as s:
        f = s.makefile("rb")
        assert wire.read_frame(f).content_type == "auth/request"
        s.sendall(f"auth {simulator.password}\n\n".encode())
        assert wire.read_frame(f).headers["Reply-Text"] == "+OK accepted"
        s.sendall(b"api originate sofia/gateway/gw/5551234 &park()\n\n")
        reply = wire.read_frame(f)
        assert reply.text().startswith("+OK ")
        uuid = reply.text().split()[1]
        s.sendall(f"api uuid_kill {uuid}\n\n".encode())
        assert wire.read_frame(f).text() == "+OK\n"


@pytest.mark.simulator(scenario={"defaults": {"outcome": "busy", "ring": 0.5}})
def test_fixture_takes_a_scenario(simulator):
    with socket.create_connection((simulator.host, simulator.port), timeout=5) as s:
        f = s.makefile("rb")
        wire.read_frame(f)
        s.sendall(f"auth {simulator.password}\n\napi originate sofia/gateway/gw/5551234 &park()\n\n".encode())
        wire.read_frame(f)
        assert wire.read_frame(f).text() == "-ERR USER_BUSY\n"
