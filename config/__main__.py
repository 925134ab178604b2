"""Print the configuration: ``python -m config`` (current values) or ``--markdown`` (the README table)."""

import sys

from config import SETTINGS, load, markdown_table


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    args = sys.argv[1:] if argv is None else argv
    if "--markdown" in args:
        print(markdown_table())
        return 0
    cfg = load()
    for s in SETTINGS:
        print(f"{s.env}={getattr(cfg, s.attr)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
