"""What `apply`, `plan` and `rollback` return: the plan, and what executing it did (filled in as it runs)."""

from __future__ import annotations

from dataclasses import dataclass, field

from deployctl.checkpoint import Checkpoint
from deployctl.launch_spec import LaunchSpec
from deployctl.plan import Plan
from deployctl.smoke_report import SmokeReport


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
