"""``freeswitch.realfs.install_conf``: the shipped configuration installed into a stock-shaped FreeSWITCH tree."""

from __future__ import annotations

import pytest
from lxml import etree

from freeswitch.realfs import install_conf
from freeswitch.realfs.__main__ import main
from freeswitch.realfs.conf import ConfError

STOCK_MODULES = """<configuration name="modules.conf" description="Modules">
  <modules>
    <load module="mod_console"/>
    <load module="mod_sofia"/>
    <!-- <load module="mod_flite"/> -->
  </modules>
</configuration>
"""
STOCK_SWITCH = """<configuration name="switch.conf" description="Core Configuration">
  <settings>
    <param name="max-sessions" value="1000"/>
    <!--<param name="sessions-per-second" value="30"/>-->
  </settings>
</configuration>
"""


@pytest.fixture
def stock(tmp_path):
    (tmp_path / "autoload_configs").mkdir()
    (tmp_path / "vars.xml").write_text('<include>\n  <X-PRE-PROCESS cmd="set" data="domain=$${local_ip_v4}"/>\n'
                                       '</include>\n')
    (tmp_path / "autoload_configs/modules.conf.xml").write_text(STOCK_MODULES)
    (tmp_path / "autoload_configs/switch.conf.xml").write_text(STOCK_SWITCH)
    return tmp_path


def test_install_is_complete_and_idempotent(stock):
    done = install_conf(stock, {"vaani_esl_password": "s3cret"})
    assert "vars.xml: includes vars_vaani.xml" in done
    for rel in ("vars_vaani.xml", "autoload_configs/event_socket.conf.xml", "dialplan/public/00_vaani_ivr.xml",
                "sip_profiles/vaani.xml", "sip_profiles/vaani/vaani_trunk.xml"):
        etree.parse(str(stock / rel))  # every file is well-formed XML
    modules = (stock / "autoload_configs/modules.conf.xml").read_text()
    assert '<load module="mod_flite"/>' in modules and "<!-- <load module=\"mod_flite\"/>" not in modules
    assert '<load module="mod_http_cache"/>' in modules and modules.count('<load module="mod_sofia"/>') == 1
    switch = (stock / "autoload_configs/switch.conf.xml").read_text()
    assert '<param name="max-sessions" value="$${vaani_max_sessions}"/>' in switch
    assert '<param name="sessions-per-second" value="$${vaani_sessions_per_second}"/>' in switch
    assert 'data="vaani_esl_password=s3cret"' in (stock / "vars_vaani.xml").read_text()
    # The include comes last, so our variables may use the stock ones.
    vars_xml = (stock / "vars.xml").read_text()
    assert vars_xml.index("domain=") < vars_xml.index("vars_vaani.xml")
    # Again: nothing more to do, and the operator's password survives a re-install.
    again = install_conf(stock)
    assert not [line for line in again if not line.startswith("installed ")]
    assert 'data="vaani_esl_password=s3cret"' in (stock / "vars_vaani.xml").read_text()
    assert (stock / "vars.xml").read_text().count("vars_vaani.xml") == 1


def test_no_preprocessor_line_inside_a_comment_of_the_shipped_files():
    """FreeSWITCH's pre-processor runs X-PRE-PROCESS lines even inside XML comments (a self-include there
    breaks the whole configuration: 'unclosed <!--')."""
    import re
    from freeswitch.realfs.conf import SHIPPED

    for path in SHIPPED.rglob("*.xml"):
        text = path.read_text()
        for comment in re.findall(r"<!--.*?-->", text, re.S):
            assert "X-PRE-PROCESS" not in comment and "$${" not in comment, path


def test_not_a_freeswitch_tree(tmp_path, capsys):
    with pytest.raises(ConfError, match="no vars.xml"):
        install_conf(tmp_path)
    assert main(["install-conf", str(tmp_path)]) == 1
    assert "is not a FreeSWITCH configuration directory" in capsys.readouterr().err


def test_bad_variable_is_refused(stock):
    with pytest.raises(ConfError, match="cannot set"):
        install_conf(stock, {"vaani_esl_password": 'a"b'})


def test_start_without_freeswitch_or_setup_is_a_readable_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.setenv("FREESWITCH_PREFIX", str(tmp_path / "nope"))
    assert main(["start"]) == 1
    assert "no FreeSWITCH at" in capsys.readouterr().err
    (tmp_path / "fs" / "bin").mkdir(parents=True)
    (tmp_path / "fs" / "bin" / "freeswitch").write_text("")
    monkeypatch.setenv("FREESWITCH_PREFIX", str(tmp_path / "fs"))
    assert main(["start"]) == 1
    assert "run `python -m freeswitch.realfs setup` first" in capsys.readouterr().err
