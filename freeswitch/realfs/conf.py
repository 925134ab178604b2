"""Install the shipped configuration (``freeswitch/conf/``) into a FreeSWITCH 1.10 configuration tree."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

#: The shipped configuration, relative paths as they go into the FreeSWITCH tree.
SHIPPED = Path(__file__).resolve().parent.parent / "conf"
#: Files replaced on every install (ours alone decide them).
OURS = ("autoload_configs/event_socket.conf.xml", "autoload_configs/http_cache.conf.xml",
        "dialplan/public/00_vaani_ivr.xml", "sip_profiles/vaani.xml", "sip_profiles/vaani/vaani_trunk.xml")
#: The operator's settings: copied only when absent, then only the variables asked for are changed.
VARS_FILE = "vars_vaani.xml"
INCLUDE = '<X-PRE-PROCESS cmd="include" data="vars_vaani.xml"/>'
#: Modules the platform uses (see freeswitch/conf/README.md for what each is for).
REQUIRED_MODULES = ("mod_console", "mod_logfile", "mod_event_socket", "mod_sofia", "mod_loopback",
                    "mod_commands", "mod_conference", "mod_db", "mod_dptools", "mod_expr", "mod_hash",
                    "mod_dialplan_xml", "mod_sndfile", "mod_native_file", "mod_local_stream",
                    "mod_tone_stream", "mod_http_cache", "mod_flite", "mod_say_en", "mod_avmd", "mod_fifo")
#: switch.conf.xml params taken from vars_vaani.xml.
SWITCH_PARAMS = {"max-sessions": "$${vaani_max_sessions}", "sessions-per-second": "$${vaani_sessions_per_second}"}


class ConfError(RuntimeError):
    """The target is not a FreeSWITCH configuration tree we can install into."""


def install_conf(conf_dir: str | os.PathLike, variables: dict[str, str] | None = None) -> list[str]:
    """Install our configuration into ``conf_dir``; returns what was done, one line per change.

    ``variables`` set ``vars_vaani.xml`` values (``{"vaani_esl_password": "s3cret"}``).
    """
    root = Path(conf_dir)
    for needed in ("vars.xml", "autoload_configs/modules.conf.xml", "autoload_configs/switch.conf.xml"):
        if not (root / needed).is_file():
            raise ConfError(f"{root} is not a FreeSWITCH configuration directory: no {needed}")
    done = []
    for rel in OURS:
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(SHIPPED / rel, target)
        done.append(f"installed {rel}")
    if not (root / VARS_FILE).exists():
        shutil.copyfile(SHIPPED / VARS_FILE, root / VARS_FILE)
        done.append(f"installed {VARS_FILE}")
    done += _include_vars(root / "vars.xml")
    done += _load_modules(root / "autoload_configs/modules.conf.xml")
    done += _switch_limits(root / "autoload_configs/switch.conf.xml")
    if variables:
        done += set_vars(root / VARS_FILE, variables)
    return done


def set_vars(path: str | os.PathLike, variables: dict[str, str]) -> list[str]:
    """Set pre-processor variables in ``vars_vaani.xml`` (added when missing)."""
    path = Path(path)
    text = path.read_text()
    done = []
    for name, value in variables.items():
        if not re.fullmatch(r"[a-z0-9_]+", name) or any(c in str(value) for c in '"<>&\n'):
            raise ConfError(f"cannot set {name}={value!r} in {path.name}")
        line = f'<X-PRE-PROCESS cmd="set" data="{name}={value}"/>'
        pattern = re.compile(r'<X-PRE-PROCESS cmd="set" data="' + re.escape(name) + r'=[^"]*"/>')
        if pattern.search(text):
            text = pattern.sub(lambda m: line, text, count=1)
        else:
            text = text.replace("</include>", f"  {line}\n</include>")
        done.append(f"{path.name}: {name}={value}")
    path.write_text(text)
    return done


def _include_vars(vars_xml: Path) -> list[str]:
    text = vars_xml.read_text()
    if INCLUDE in text:
        return []
    # At the end, so that our variables can use the stock ones (local_ip_v4, cache_dir, ...).
    head, sep, tail = text.rpartition("</include>")
    if not sep:
        raise ConfError(f"{vars_xml}: no </include> to add our include before")
    vars_xml.write_text(f"{head}  {INCLUDE}\n{sep}{tail}")
    return ["vars.xml: includes vars_vaani.xml"]


def _load_modules(modules_xml: Path) -> list[str]:
    text = modules_xml.read_text()
    done = []
    for module in REQUIRED_MODULES:
        load = f'<load module="{module}"/>'
        commented = re.compile(r"<!--\s*" + re.escape(load) + r"\s*-->")
        if commented.search(text):
            text = commented.sub(load, text, count=1)
            done.append(f"modules.conf.xml: loads {module}")
        elif load not in text:
            text = text.replace("</modules>", f"    {load}\n  </modules>", 1)
            done.append(f"modules.conf.xml: loads {module}")
    modules_xml.write_text(text)
    return done


def _switch_limits(switch_xml: Path) -> list[str]:
    text = switch_xml.read_text()
    done = []
    for name, value in SWITCH_PARAMS.items():
        param = f'<param name="{name}" value="{value}"/>'
        pattern = re.compile(r'(?:<!--\s*)?<param name="' + re.escape(name) + r'" value="[^"]*"\s*/>(?:\s*-->)?')
        if param in text:
            continue
        if pattern.search(text):
            text = pattern.sub(lambda m: param, text, count=1)
        else:
            text = text.replace("<settings>", f"<settings>\n    {param}", 1)
        done.append(f"switch.conf.xml: {name} = {value}")
    switch_xml.write_text(text)
    return done
