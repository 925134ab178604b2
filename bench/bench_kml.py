"""Parse time of a typical 2 KB app, as a ratio to a bare ``lxml.etree.fromstring`` of the same bytes.

Target: ``kml.parse`` within 3x of bare lxml. The two are timed in alternating
rounds and each keeps its best round, so load from other processes on a shared
machine hits both alike.
"""

from __future__ import annotations

import gc
import os
import time

from lxml import etree

import kml

APPS = os.path.join(os.path.dirname(__file__), os.pardir, "tests", "kml", "apps")


def _best(fn, data: bytes, number: int) -> float:
    start = time.perf_counter()
    for _ in range(number):
        fn(data)
    return (time.perf_counter() - start) / number


def measure(path: str, rounds: int = 60, number: int = 100) -> dict:
    """Figures for one document: µs per parse for both, and the ratio."""
    with open(path, "rb") as fh:
        data = fh.read()
    kml.parse(data)  # warm caches, and fail early on a broken corpus file
    gc.collect()
    bare = ours = float("inf")
    for _ in range(rounds):
        bare = min(bare, _best(etree.fromstring, data, number))
        ours = min(ours, _best(kml.parse, data, number))
    return {"bytes": len(data), "lxml_us": round(bare * 1e6, 1), "kml_us": round(ours * 1e6, 1),
            "ratio": round(ours / bare, 2)}


def main() -> dict:
    """Figures of the typical 2 KB KooKoo app and of the KML menu app."""
    typical = measure(os.path.join(APPS, "typical_2kb.xml"))
    menu = measure(os.path.join(APPS, "kml_menu.xml"), rounds=30)
    return {
        "typical_2kb_bytes": typical["bytes"],
        "typical_2kb_lxml_fromstring_us": typical["lxml_us"],
        "typical_2kb_kml_parse_us": typical["kml_us"],
        "typical_2kb_ratio_to_lxml": typical["ratio"],
        "target_ratio": 3.0,
        "kml_menu_bytes": menu["bytes"],
        "kml_menu_ratio_to_lxml": menu["ratio"],
    }


if __name__ == "__main__":
    for key, value in main().items():
        print(f"{key}: {value}")
