"""One exception family for everything a user can cause or fix.

Errors are raised deep with data (file, field, line, hint) and rendered once, at the CLI edge
(`deployctl.cli.errors`). Anything that is *not* a `DeployctlError` reaching the user is a bug.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dataclass_field
from pathlib import Path


@dataclass
class DeployctlError(Exception):
    """Base class: a message, where it happened, and how to fix it."""

    message: str
    hint: str | None = None
    file: Path | str | None = None
    field: str | None = None
    line: int | None = None
    details: list[str] = dataclass_field(default_factory=list)

    exit_code = 1

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message

    @property
    def location(self) -> str | None:
        """`recipe.yaml:12 (quantization.format)`, or whatever part of it is known."""
        if self.file is None and self.field is None:
            return None
        where = str(self.file) if self.file is not None else ""
        if self.line is not None:
            where += f":{self.line}"
        if self.field:
            where = f"{where} ({self.field})" if where else self.field
        return where


class UsageError(DeployctlError):
    """Bad command-line use or unreadable input: exit code 2."""

    exit_code = 2


class RecipeError(UsageError):
    """The recipe cannot be read or does not describe a valid deployment."""


class CapabilityRejected(DeployctlError):
    """The recipe is well formed, but the combination cannot work (capability table or memory fit)."""


class GpuDetectionError(DeployctlError):
    """NVML is missing or sees no GPU."""


class ModelSourceError(DeployctlError):
    """The model cannot be found or resolved (local folder, hub cache, offline mode)."""


class QuantizeError(DeployctlError):
    """Calibration or export failed."""


class QualityGateFailed(DeployctlError):
    """The quantized model is worse than the recipe allows; nothing was served."""


class EvaluationFailed(DeployctlError):
    """lm-evaluation-harness could not evaluate the endpoint (not installed, unknown task, no answer)."""


class TaskGateFailed(QualityGateFailed):
    """The candidate engine scored worse on the recipe's tasks than the engine it would replace."""


class RuntimeUnavailable(DeployctlError):
    """The container engine or the engine program cannot be reached or found."""


class ImageMissing(RuntimeUnavailable):
    """The engine image is not present locally."""


class EngineStartFailed(DeployctlError):
    """The engine exited, or never became healthy, before the deadline."""

    def __init__(
        self, message: str, *, hint: str | None = None, log_tail: str = "", log_path: str | None = None
    ) -> None:
        details = [log_tail] if log_tail else []
        if log_path:
            details.append(f"the engine's full log is kept at {log_path}")
        super().__init__(message, hint=hint, details=details)
        self.log_tail = log_tail  # the root-cause block (serve/start_failure.py), secrets masked
        self.log_path = log_path


class SmokeTestFailed(DeployctlError):
    """The endpoint is up but did not answer like an OpenAI server should."""

    def __post_init__(self) -> None:
        if not self.message.startswith("smoke test failed"):
            self.message = f"smoke test failed at {self.message}"
        super().__post_init__()


class StateError(DeployctlError):
    """The state folder is unreadable, or a deployment does not exist."""


class LockHeld(DeployctlError):
    """Another deployctl process is working on the same deployment."""


def unknown_deployment(
    name: str, hint: str = "`deployctl list` shows the deployments deployctl knows"
) -> StateError:
    """The one wording for a name that neither state nor the runtimes know."""
    return StateError(f"no deployment named {name}", hint=hint)
