"""Deterministic random streams: one per (seed, purpose, day, department, kind, ...).

Deriving every stream from a hash of its coordinates makes a day's output independent of
how many days were generated before it in the same process, which is what lets advancing
day by day give the same bytes as generating a whole range at once.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Mapping


def stream(*parts: object) -> random.Random:
    """A ``random.Random`` seeded by the BLAKE2b hash of the given coordinates."""
    digest = hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=8).digest()
    return random.Random(int.from_bytes(digest, "big"))


def poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw; the normal approximation above 50 keeps big days cheap."""
    if mean <= 0:
        return 0
    if mean > 50:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def weighted(rng: random.Random, weights: Mapping[str, float]) -> str:
    """One key of ``weights`` chosen in proportion to its weight."""
    return rng.choices(list(weights), weights=list(weights.values()))[0]
