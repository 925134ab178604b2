"""The ``show`` API command: ``channels``/``calls`` (their columns as mod_commands' SQL gives them, CSV or
``as json``), the other words show_function knows (empty results), and its usage line for anything else."""

from __future__ import annotations

import json
import time

from freeswitch.sim.api import command


CHANNEL_COLUMNS = ("uuid,direction,created,created_epoch,name,state,cid_name,cid_num,ip_addr,dest,application,"
                   "application_data,dialplan,context,read_codec,read_rate,read_bit_rate,write_codec,write_rate,"
                   "write_bit_rate,secure,hostname,presence_id,presence_data,accountcode,callstate,callee_name,"
                   "callee_num,callee_direction,call_uuid,sent_callee_name,sent_callee_num,initial_cid_name,"
                   "initial_cid_num,initial_ip_addr,initial_dest,initial_dialplan,initial_context").split(",")
CALL_COLUMNS = ("uuid,direction,created,created_epoch,name,state,cid_name,cid_num,ip_addr,dest,presence_id,"
                "presence_data,accountcode,callstate,callee_name,callee_num,callee_direction,call_uuid,hostname,"
                "sent_callee_name,sent_callee_num,b_uuid,b_direction,b_created,b_created_epoch,b_name,b_state,"
                "b_cid_name,b_cid_num,b_ip_addr,b_dest,b_presence_id,b_presence_data,b_accountcode,b_callstate,"
                "b_callee_name,b_callee_num,b_callee_direction,b_sent_callee_name,b_sent_callee_num,"
                "call_created_epoch").split(",")


def _channel_row(switch, ch) -> dict:
    p = ch.profile
    created = ch.created_us / 1_000_000
    return {
        "uuid": ch.uuid, "direction": p.direction,
        "created": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(created)),
        "created_epoch": str(int(created)), "name": ch.name, "state": ch.state,
        "cid_name": p.caller_id_name, "cid_num": p.caller_id_number, "ip_addr": p.network_addr,
        "dest": p.destination_number, "application": ch.current_app or "",
        "application_data": ch.get_var("current_application_data", "") or "", "dialplan": p.dialplan or "",
        "context": p.context, "read_codec": ch.codec[0], "read_rate": ch.codec[1], "read_bit_rate": ch.codec[2],
        "write_codec": ch.codec[0], "write_rate": ch.codec[1], "write_bit_rate": ch.codec[2], "secure": "",
        "hostname": switch.config.hostname, "presence_id": "", "presence_data": "", "accountcode": "",
        "callstate": ch.callstate, "callee_name": p.callee_id_name, "callee_num": p.callee_id_number,
        "callee_direction": "SEND" if p.direction == "outbound" else "", "call_uuid": ch.uuid,
        "sent_callee_name": "", "sent_callee_num": "", "initial_cid_name": p.orig_caller_id_name,
        "initial_cid_num": p.orig_caller_id_number, "initial_ip_addr": p.network_addr,
        "initial_dest": p.destination_number, "initial_dialplan": p.dialplan or "", "initial_context": p.context,
    }


def _format_rows(columns: list[str], rows: list[dict], as_json: bool) -> str:
    if as_json:
        if not rows:
            return '{"row_count": 0}\n'
        out = {"row_count": len(rows), "rows": [{c: r.get(c, "") for c in columns} for r in rows]}
        return json.dumps(out, separators=(",", ":"), ensure_ascii=False)
    if not rows:
        return "\n0 total.\n"
    lines = [",".join(columns)]
    for r in rows:
        lines.append(",".join(str(r.get(c, "")) for c in columns))
    return "\n".join(lines) + f"\n\n{len(rows)} total.\n"


@command("show")
def api_show(switch, arg, conn) -> str:
    """``show channels|calls [as json]`` (others: an empty result)."""
    words = (arg or "").split()
    if not words or not _show_knows(words[0].lower()):
        return "-USAGE: codec|endpoint|application|api|dialplan|file|timer|calls [count]|channels [count|like <match string>]|calls|detailed_calls|bridged_calls|detailed_bridged_calls|aliases|complete|chat|management|modules|nat_map|say|interfaces|interface_types|tasks|limits|status\n"
    what = words[0].lower()
    as_json = len(words) >= 3 and words[-2].lower() == "as" and words[-1].lower() == "json"
    chans = sorted(switch.channels.values(), key=lambda c: c.created_us)
    if what == "channels":
        if len(words) > 1 and words[1].lower() == "count":
            return f"\n{len(chans)} total.\n"
        return _format_rows(CHANNEL_COLUMNS, [_channel_row(switch, c) for c in chans], as_json)
    if what in ("calls", "detailed_calls", "bridged_calls"):
        rows = []
        seen = set()
        for c in chans:
            if c.uuid in seen:
                continue
            row = _channel_row(switch, c)
            b = c.bridged_to
            if b is not None:
                seen.add(b.uuid)
                brow = _channel_row(switch, b)
                for k, v in brow.items():
                    row["b_" + k] = v
            elif what == "bridged_calls":
                continue
            row["call_created_epoch"] = row["created_epoch"]
            rows.append(row)
        if len(words) > 1 and words[1].lower() == "count":
            return f"\n{len(rows)} total.\n"
        return _format_rows(CALL_COLUMNS, rows, as_json)
    return _format_rows(["name"], [], as_json)


#: What show_function answers; the first group by prefix (strncasecmp), the others exactly.
_SHOW_PREFIXES = ("status", "codec", "dialplan", "file", "timer", "chat", "limit", "say", "management", "endpoint",
                  "module")
_SHOW_WORDS = {"interfaces", "interface_types", "tasks", "application", "api", "aliases", "complete", "nat_map",
               "calls", "registrations", "channels", "detailed_calls", "bridged_calls", "detailed_bridged_calls"}


def _show_knows(word: str) -> bool:
    return word in _SHOW_WORDS or word.startswith(_SHOW_PREFIXES)
