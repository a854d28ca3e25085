"""One execution of a plan, as the executor and its front steps see it: `Run` and its injected seams.

It sits below both `execute` and `front_steps`, so that the executor can call its front steps and the
front steps can read the run without importing each other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from deployctl.apply_result import ApplyResult
from deployctl.errors import UsageError
from deployctl.front.cutover import Front
from deployctl.instance import Handle
from deployctl.launch_spec import LaunchSpec
from deployctl.observe import World
from deployctl.recipe.model import Recipe
from deployctl.runtimes.base import NetworkRuntime, Runtime
from deployctl.smoke_report import SmokeReport
from deployctl.state import StateStore

Reporter = Callable[[str], None]


class WaitHealthy(Protocol):
    """Block until `handle` answers `spec`'s health and models paths; raise `EngineStartFailed` if not."""

    def __call__(
        self, runtime: Runtime, handle: Handle, spec: LaunchSpec, *, deadline_s: float
    ) -> object: ...


class SmokeTest(Protocol):
    """Run the recipe's smoke test against `endpoint`; raise `SmokeTestFailed` on the first failed check."""

    def __call__(self, recipe: Recipe, endpoint: str, model: str | None) -> SmokeReport: ...


def wait_until_healthy(runtime: Runtime, handle: Handle, spec: LaunchSpec, *, deadline_s: float) -> object:
    from deployctl.serve.health import wait_until_healthy as wait

    return wait(runtime, handle, spec, deadline_s=deadline_s)


def smoke_recipe(recipe: Recipe, endpoint: str, model: str | None) -> SmokeReport:
    from deployctl.serve.smoke import smoke_recipe as smoke

    return smoke(recipe, endpoint, model=model)


class CandidateCheck(Protocol):
    """A check of the new engine between its smoke test and the cutover (quality.gate.SwapGate).

    `prepare` runs first, while the old engine still serves (its endpoint, or None when it does not
    run); `verify` raises a DeployctlError to refuse the new engine, which is then discarded and the
    old one kept (blue-green) or restored (replace), exactly as after a failed smoke test.
    """

    def prepare(self, serving_endpoint: str | None) -> None: ...

    def verify(self, candidate_endpoint: str) -> None: ...


@dataclass
class Run:
    """One execution of a plan: inputs, the seams, and the result being filled in."""

    recipe: Recipe
    recipe_path: Path | None
    world: World
    store: StateStore
    result: ApplyResult
    report: Reporter
    wait_healthy: WaitHealthy = field(default=wait_until_healthy)
    smoke: SmokeTest = field(default=smoke_recipe)
    front: Front | None = None  # the front that owns the public port (docs/front.md), when the recipe has one
    check: CandidateCheck | None = None  # the task gate (quality.gate.SwapGate), when the swap has one

    @property
    def spec(self) -> LaunchSpec:
        assert self.result.spec is not None
        return self.result.spec

    @property
    def runtime(self) -> Runtime:
        return self.world.runtime

    def network_runtime(self) -> NetworkRuntime:
        """The runtime, for moving a network name; only specs with `service_network` ask for it."""
        runtime = self.world.runtime
        if not isinstance(runtime, NetworkRuntime):  # the judge allows serve.network with docker only
            raise UsageError(f"the {runtime.kind.value} runtime cannot put an engine on a container network")
        return runtime
