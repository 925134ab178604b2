"""Child process of the CDR concurrency test: apply the JSON list of CDR halves from stdin, in order.

Each item is ``["hangup", headers]`` or ``["facts", facts_dict]``; stdin also
carries the settings. Kept free of pytest and gevent so the child starts fast.
"""

from __future__ import annotations

import json
import sys

from config import load
from dialer import records


def main() -> None:
    """Read the job from stdin and apply every item."""
    job = json.load(sys.stdin)
    cfg = load(job["env"])
    for kind, data in job["items"]:
        if kind == "hangup":
            records.handle_channel_hangup(data, cfg=cfg)
        else:
            records.ivr_call_finished(data, cfg=cfg)


if __name__ == "__main__":
    main()
