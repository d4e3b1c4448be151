"""Enumerate every NAS-Bench-101 class and check it against the official hashes.

Prints one JSON line: classes found (must be 423,624), whether the 6,668 smallest hashes
equal the published list, seconds, peak RSS. Run: make bench (or python bench/enumerate_nb101.py).
"""

import csv
import sys
import time

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
from _common import SHARED_DATA, peak_rss_mb, report  # noqa: E402

from wsdb.spaces import nb101_enumeration  # noqa: E402


def main() -> None:
    start = time.perf_counter()
    classes = nb101_enumeration.all_classes()
    seconds = time.perf_counter() - start
    keys = [arch.canonical_key for arch in classes]
    with open(SHARED_DATA / "nb101/official_hashes_sorted_first6668.csv") as f:
        official = [row["module_hash"] for row in csv.DictReader(f)]
    report(
        benchmark="nb101_enumeration",
        classes=len(keys),
        expected_classes=423_624,
        smallest_6668_hashes_match=keys[: len(official)] == official,
        seconds=round(seconds, 1),
        peak_rss_mb=peak_rss_mb(),
    )


if __name__ == "__main__":
    main()
