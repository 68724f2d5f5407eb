"""Conversion of results to plain JSON values (no numpy types, NaN/inf → None)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def to_json(value: Any) -> Any:
    """Recursively turn numpy scalars/arrays and tuples into JSON-serialisable Python values."""
    # Exact-type checks first: a report is thousands of plain floats, strs and dicts, and they
    # should not walk the whole isinstance chain (bool is tested before int on purpose).
    kind = type(value)
    if kind is float:
        return value if math.isfinite(value) else None
    if kind is str or kind is bool or kind is int or value is None:
        return value
    if kind is dict:
        return {str(k): to_json(v) for k, v in value.items()}
    if kind is list or kind is tuple:
        return [to_json(v) for v in value]
    return _to_json_other(value)


def _to_json_other(value: Any) -> Any:
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
