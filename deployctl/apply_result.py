"""What `apply`, `plan` and `rollback` return: the plan, and what executing it did (filled in as it runs)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from deployctl.checkpoint import Checkpoint
from deployctl.launch_spec import LaunchSpec
from deployctl.plan import Plan
from deployctl.smoke_report import SmokeReport

if TYPE_CHECKING:
    from deployctl.capability.calibration_placement import CalibrationPlacement
    from deployctl.capability.profiles import ProfileChoice


@dataclass
class ApplyResult:
    """What happened, with the time each step took (seconds)."""

    deployment: str
    plan: Plan
    endpoint: str | None = None
    spec: LaunchSpec | None = None
    checkpoint: Checkpoint | None = None
    smoke: SmokeReport | None = None
    timings: dict[str, float] = field(default_factory=dict)
    downtime_s: float | None = None  # replace: old engine stopped → new engine healthy; blue-green: 0
    warnings: list[str] = field(default_factory=list)
    changed: bool = True
    calibration: CalibrationPlacement | None = None  # where the quantize step calibrates (plan and apply)
    profile: ProfileChoice | None = None  # the tuned profile whose options the spec carries
