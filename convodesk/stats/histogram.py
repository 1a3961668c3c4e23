"""The fixed log-spaced histogram both statistics paths use for percentiles.

Bucket ``i`` holds the whole-second values ``v`` with ``EDGES[i-1] < v <= EDGES[i]`` (bucket 0
holds 0 only; the last bucket holds everything above the last edge). Values up to 10 s have a
bucket each; above that every edge is at most 10 % above the previous one, and the service-level
thresholds offered on the page are edges themselves, so "taken within N seconds" is exact on both
paths.

A percentile is estimated by nearest rank: find the bucket holding the ``ceil(p * n)``-th smallest
value and report the middle of that bucket's integer range. The true nearest-rank percentile lies
in the same bucket, so

    |estimate − true| ≤ max(1 s, 5 % of the true value)

(exact up to 10 s; above, a bucket ``(lo, hi]`` with ``hi ≤ 1.1·lo + 1`` has half-width at most
``(hi − lo − 1) / 2 ≤ 0.05·(lo + 1)``). Values above the last edge (one year) are reported as the
last edge. The rollup path and the direct path fill identical histograms, so they report identical
estimates; only the bound above separates either from the exact percentile.
"""

from __future__ import annotations

import bisect
import math

RATIO = 1.1
MAX_EDGE = 366 * 24 * 3600
SERVICE_LEVEL_CHOICES = (10, 15, 20, 30, 45, 60, 90, 120, 180, 300, 600)
DEFAULT_SERVICE_LEVEL = 60
ERROR_BOUND_PERCENT = 5


def _edges() -> list[int]:
    edges = list(range(0, 11))
    while edges[-1] < MAX_EDGE:
        edges.append(max(edges[-1] + 1, math.floor(edges[-1] * RATIO)))
    return sorted(set(edges) | set(SERVICE_LEVEL_CHOICES))


EDGES: tuple[int, ...] = tuple(_edges())


def bucket_of(value: int) -> int:
    """Index of the bucket holding a non-negative whole number of seconds."""
    return bisect.bisect_left(EDGES, max(0, int(value)))


def upper_bucket(threshold: int) -> int:
    """The last bucket whose values are all ≤ threshold (threshold must be an edge)."""
    index = bisect.bisect_left(EDGES, threshold)
    if index >= len(EDGES) or EDGES[index] != threshold:
        raise ValueError(f"{threshold} is not a histogram edge")
    return index


def representative(bucket: int) -> float:
    if bucket <= 0:
        return 0.0
    if bucket >= len(EDGES):
        return float(EDGES[-1])
    low, high = EDGES[bucket - 1] + 1, EDGES[bucket]
    return (low + high) / 2


def percentile(counts: dict[int, int], p: float) -> float | None:
    """Nearest-rank percentile estimate from {bucket: count}; None for an empty histogram."""
    total = sum(counts.values())
    if total <= 0:
        return None
    rank = max(1, math.ceil(p * total))
    seen = 0
    for bucket in sorted(counts):
        seen += counts[bucket]
        if seen >= rank:
            return representative(bucket)
    return representative(max(counts))


def exact_percentile(values: list[int], p: float) -> int | None:
    """The nearest-rank percentile the estimate approximates (used by tests and as the reference)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(1, math.ceil(p * len(ordered))) - 1]


def within_bound(estimate: float | None, true: float | None) -> bool:
    if estimate is None or true is None:
        return estimate is None and true is None
    if true > EDGES[-1]:
        return estimate == EDGES[-1]
    return abs(estimate - true) <= max(1.0, true * ERROR_BOUND_PERCENT / 100)
