"""``kml validate FILE|URL``: the console script run as a process, against files and a real HTTP server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.conftest import free_port
from tests.kml.helpers import APPS

KML_SCRIPT = os.path.join(os.path.dirname(sys.executable), "kml")


def run(*args: str) -> subprocess.CompletedProcess:
    cmd = [KML_SCRIPT] if os.path.exists(KML_SCRIPT) else [sys.executable, "-m", "kml.cli"]
    return subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=60)


def test_valid_file_prints_instructions_as_json():
    res = run("validate", os.path.join(APPS, "kookoo_menu.xml"))
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)
    assert data["dialect"] == "kookoo" and data["sid"] == "c0a8-1234"
    assert [i["type"] for i in data["instructions"]] == ["speak", "collect_digits"]
    assert data["instructions"][1]["prompts"][0]["text"] == "For account balance, press 1."


def test_hindi_is_printed_as_text():
    res = run("validate", os.path.join(APPS, "kookoo_multilingual.xml"))
    assert res.returncode == 0 and "किसान" in res.stdout


def test_invalid_file_prints_errors_with_line_numbers(tmp_path):
    app = tmp_path / "bad.xml"
    app.write_text("<response>\n  <collectdtmf l='1'>\n    <playtext>Hi</playtext>\n    <record>f</record>\n"
                   "  </collectdtmf>\n</response>\n")
    res = run("validate", str(app))
    assert res.returncode == 1
    assert res.stdout == (f"{app}:4:5: `collectdtmf` may not contain `record` "
                          f"(only playtext, playaudio and say-as)\n")
    res = run("validate", "--json", str(app))
    assert res.returncode == 1
    assert json.loads(res.stdout)["errors"] == [{"line": 4, "column": 5, "message": "`collectdtmf` may not contain "
                                                 "`record` (only playtext, playaudio and say-as)"}]


def test_lenient_and_dialect_options(tmp_path):
    app = tmp_path / "odd.xml"
    app.write_text("<Response><Say>hi</Say><Enqueue>q</Enqueue></Response>")
    # Detected as TwiML (Enqueue is Twilio's, issue 14); as KML it is refused, or skipped when lenient.
    res = run("validate", str(app))
    assert res.returncode == 0 and json.loads(res.stdout)["dialect"] == "twiml"
    assert run("validate", "--dialect", "kml", str(app)).returncode == 1
    res = run("validate", "--dialect", "kml", "--lenient", str(app))
    assert res.returncode == 0
    assert json.loads(res.stdout)["warnings"][0]["message"].startswith("`Enqueue` is not a KML verb")
    res = run("validate", "--dialect", "kookoo", str(app))
    assert res.returncode == 1 and "`Say` is not a KooKoo tag" in res.stdout


def test_missing_file_is_a_clear_error(tmp_path):
    res = run("validate", str(tmp_path / "nope.xml"))
    assert res.returncode == 1
    assert res.stdout == f"{tmp_path / 'nope.xml'}: cannot read the file: No such file or directory\n"
    assert "Traceback" not in res.stderr


@pytest.fixture
def app_server():
    """A real HTTP server on a free loopback port serving a few documents."""
    bodies = {
        "/ok": (200, open(os.path.join(APPS, "kml_menu.xml"), "rb").read()),
        "/bad": (200, b"<Response><Gather><Dial>1</Dial></Gather></Response>"),
        "/missing": (404, b"not here"),
        "/huge": (200, b"<response>" + b" " * (1024 * 1024 + 10) + b"</response>"),
    }

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's naming)
            status, body = bodies.get(self.path, (404, b""))
            self.send_response(status)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                self.wfile.write(body)
            except OSError:
                pass  # the client stopped reading at the size cap

        def log_message(self, *args):
            pass

    port = free_port()
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    server.shutdown()
    server.server_close()


def test_url_is_fetched_and_validated(app_server):
    res = run("validate", app_server + "/ok")
    assert res.returncode == 0, res.stdout
    assert json.loads(res.stdout)["dialect"] == "kml"
    res = run("validate", app_server + "/bad")
    assert res.returncode == 1 and "`Gather` may not contain `Dial`" in res.stdout


def test_url_errors(app_server):
    res = run("validate", app_server + "/missing")
    assert res.returncode == 1 and res.stdout.endswith(": the server answered HTTP 404\n")
    res = run("validate", app_server + "/huge")
    assert res.returncode == 1 and "sent more than 1048576 bytes" in res.stdout
    res = run("validate", f"http://127.0.0.1:{free_port()}/x")
    assert res.returncode == 1 and "cannot fetch" in res.stdout
