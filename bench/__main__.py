"""Run every ``bench/bench_*.py`` (or those named on the command line) and print their figures.

Each module's ``main()`` returns a dict of figures. They are printed and also
written to ``var/bench/<name>.json`` so that a closing note can quote them.
"""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import sys
import time


def main(argv: list[str] | None = None) -> int:
    """Run the selected benchmarks; returns non-zero if any of them failed to run."""
    wanted = set(sys.argv[1:] if argv is None else argv)
    here = os.path.dirname(__file__)
    names = sorted(m.name for m in pkgutil.iter_modules([here]) if m.name.startswith("bench_"))
    if wanted:
        names = [n for n in names if n in wanted or n.removeprefix("bench_") in wanted]
    os.makedirs(os.path.join("var", "bench"), exist_ok=True)
    failed = 0
    for name in names:
        print(f"== {name}", flush=True)
        started = time.monotonic()
        try:
            figures = importlib.import_module(f"bench.{name}").main()
        except Exception as exc:  # a broken benchmark must not hide the others' figures
            failed += 1
            print(f"   FAILED: {type(exc).__name__}: {exc}", flush=True)
            continue
        for key, value in figures.items():
            print(f"   {key}: {value}")
        print(f"   ({time.monotonic() - started:.1f} s)", flush=True)
        with open(os.path.join("var", "bench", f"{name}.json"), "w") as fh:
            json.dump(figures, fh, indent=2, default=str)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
