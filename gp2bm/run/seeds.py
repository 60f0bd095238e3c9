"""Fresh seeds: one per run, drawn from the OS's random source, never one used before in
the campaign (attempts included)."""

from __future__ import annotations

import secrets

# Seeds stay within a signed 32-bit int, which every framework accepts.
SEED_MAX = 2**31 - 1


def fresh_seed(used: set[int]) -> int:
    while True:
        seed = secrets.randbelow(SEED_MAX) + 1
        if seed not in used:
            return seed
