"""Pure negotiation maths for Civic: scenarios, utilities, exact solvers, the protocol.

No Django import anywhere in this package; services load rows, call these functions, save results.
"""

from __future__ import annotations

from .outcome import run_negotiation
from .scenario import (
    BaseDesign,
    Group,
    Intervention,
    Scenario,
    ScenarioError,
    load_scenario,
    parse_scenario,
    scenario_to_json,
)

__all__ = [
    "BaseDesign",
    "Group",
    "Intervention",
    "Scenario",
    "ScenarioError",
    "load_scenario",
    "parse_scenario",
    "run_negotiation",
    "scenario_to_json",
]
