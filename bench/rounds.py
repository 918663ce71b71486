"""Alternating rounds: every system measured in short turns, A B C A B C ..., against the same
database, and each figure summarised as its median over the rounds with its spread.

Why: one long measurement per system, one system after the other, let the machine's drift (other
work on the shared CPUs, the audit trail and the tables growing, autovacuum) land on whichever
system ran at that moment; the same code moved by a quarter between two phases of one run. In
rounds, a drift weighs on every system alike, and the ratio of two systems is taken within each
round, from measurements seconds apart, so its spread over the rounds says how far to trust it.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any

# One measurement: (system, concurrency, duration, warmup) -> the load generator's figures.
Measure = Callable[[str, int, float, float], dict[str, Any]]

FIGURES = ("rps", "p50_ms", "p99_ms")


def alternate(systems: list[str], measure: Measure, clients: int, rounds: int,
              duration: float, warmup: float,
              report: Callable[[int, str, dict[str, Any]], None] | None = None,
              ) -> dict[str, list[dict[str, Any]]]:
    """Every system once per round, in the same order each round; the figures of each round."""
    runs: dict[str, list[dict[str, Any]]] = {system: [] for system in systems}
    for round_ in range(rounds):
        for system in systems:
            figures = measure(system, clients, duration, warmup)
            runs[system].append(figures)
            if report is not None:
                report(round_, system, figures)
    return runs


def summary(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over the rounds (and the throughput's min and max); errors summed."""
    out: dict[str, Any] = {key: statistics.median(r[key] for r in rounds) for key in FIGURES}
    out["rps_min"] = min(r["rps"] for r in rounds)
    out["rps_max"] = max(r["rps"] for r in rounds)
    out["errors"] = sum(r["errors"] for r in rounds)
    out["first_error"] = next((r["first_error"] for r in rounds if r["first_error"]), None)
    out["requests"] = sum(r["requests"] for r in rounds)
    out["rounds"] = [{key: r[key] for key in (*FIGURES, "requests", "errors")} for r in rounds]
    return out


def ratio(ours: list[dict[str, Any]], theirs: list[dict[str, Any]]) -> dict[str, float]:
    """Ours over theirs, round by round: the median ratio and its spread (min, max, and the
    largest distance from the median as a fraction of it), for throughput and p99."""
    def of(key: str) -> list[float]:
        return [a[key] / b[key] if b[key] else float("nan")
                for a, b in zip(ours, theirs, strict=True)]

    rps, p99 = of("rps"), of("p99_ms")
    median = statistics.median(rps)
    return {
        "rps": median, "rps_min": min(rps), "rps_max": max(rps),
        "rps_spread": max(abs(r - median) for r in rps) / median if median else float("nan"),
        "p99": statistics.median(p99), "p99_min": min(p99), "p99_max": max(p99),
    }
