"""Throughput of wardgraph.news2.score() over a fixed mix of vitals.

Run from the repository root: ``python bench/news2_throughput.py``. Prints figures only; asserts
no timing. Takes a few seconds.
"""

from __future__ import annotations

import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

# Allow running as a script from a checkout without installing the package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from wardgraph.news2 import Consciousness, Spo2Scale, Vitals, score

C = Consciousness
# A fixed, deterministic mix covering every risk band, both scales, air and oxygen, and the three
# accepted temperature input types (Decimal, float, str).
MIX: tuple[tuple[Vitals, Spo2Scale], ...] = (
    (Vitals(16, 97, False, 120, 70, C.ALERT, Decimal("37.0")), Spo2Scale.SCALE_1),  # 0, low
    (Vitals(22, 95, False, 105, 95, C.ALERT, Decimal("37.4")), Spo2Scale.SCALE_1),  # 4, low
    (Vitals(14, 96, False, 130, 80, C.VOICE, Decimal("36.8")), Spo2Scale.SCALE_1),  # red score
    (Vitals(24, 93, True, 100, 115, C.ALERT, 38.4), Spo2Scale.SCALE_1),  # type: ignore[arg-type]
    (Vitals(30, 88, True, 85, 140, C.PAIN, "39.55"), Spo2Scale.SCALE_1),  # type: ignore[arg-type]
    (Vitals(18, 90, False, 125, 72, C.ALERT, Decimal("36.6")), Spo2Scale.SCALE_2),  # 0 on target
    (Vitals(20, 97, True, 118, 88, C.ALERT, Decimal("37.1")), Spo2Scale.SCALE_2),  # over target
    (Vitals(26, 84, True, 95, 125, C.NEW_CONFUSION, 35.05), Spo2Scale.SCALE_2),  # type: ignore[arg-type]
)

BATCH = 20_000  # score() calls per timed batch (cycling through MIX)
SECONDS = 3.0  # total time budget


def run_batch(work: list[tuple[Vitals, Spo2Scale]]) -> float:
    """Score every item in ``work``; return the elapsed seconds."""
    start = time.perf_counter()
    for vitals, scale in work:
        score(vitals, scale)
    return time.perf_counter() - start


def main() -> None:
    work = [MIX[i % len(MIX)] for i in range(BATCH)]
    run_batch(work[:1_000])  # warm-up
    rates: list[float] = []
    deadline = time.perf_counter() + SECONDS
    while time.perf_counter() < deadline or len(rates) < 3:
        rates.append(BATCH / run_batch(work))
    print(f"news2.score(): {len(rates)} batches x {BATCH:,} calls over a mix of {len(MIX)} vitals")
    print(f"  median: {statistics.median(rates):>12,.0f} scores/s")
    print(f"  best:   {max(rates):>12,.0f} scores/s")
    print(f"  worst:  {min(rates):>12,.0f} scores/s")
    print(f"  median per call: {1e6 / statistics.median(rates):.2f} µs")


if __name__ == "__main__":
    main()
