"""Conversion of results to plain JSON values (no numpy types, NaN/inf → None)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def to_json(value: Any) -> Any:
    """Recursively turn numpy scalars/arrays and tuples into JSON-serialisable Python values."""
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    if isinstance(value, np.ndarray):
        return [to_json(v) for v in value.tolist()]
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        number = float(value)
        return number if math.isfinite(number) else None
    return value
