"""The order in which a participant sees streets and ranking images.

Every participant sees their own shuffle, so order effects (the first street rated, the image
shown first) average out over participants instead of pushing every answer the same way. The
shuffle is seeded by the participant's stored seed and what is being ordered, so it is the same
on every visit and every device.
"""

from __future__ import annotations

import random
from collections.abc import Sequence


def participant_shuffle[T](items: Sequence[T], *, seed: int, key: str) -> list[T]:
    """`items` in the participant's order for `key` (e.g. "sites" or "rank:<criterion id>")."""
    shuffled = list(items)
    random.Random(f"{seed}:{key}").shuffle(shuffled)
    return shuffled
