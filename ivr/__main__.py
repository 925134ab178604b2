"""``python -m ivr serve|try ...``: the ``ivr`` console script without the installed entry point (ivr/cli.py)."""

from __future__ import annotations

import sys

from ivr.cli import main

sys.exit(main())
