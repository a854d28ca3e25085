"""Runtime kind → adapter class: one mapping, no fallback; and observation across every runtime.

An unknown kind is an error listing the valid ones. `register_runtime` adds a kind at run time (what
a plugin or a test does); the recipe then accepts it as `runtime.kind`.
"""

from __future__ import annotations

from pathlib import Path

from deployctl.errors import RuntimeUnavailable, UsageError
from deployctl.instance import Handle
from deployctl.recipe.model import RuntimeKind, RuntimeSpec
from deployctl.runtimes.base import Runtime
from deployctl.runtimes.docker import DockerRuntime
from deployctl.runtimes.process import ProcessRuntime

RUNTIMES: dict[RuntimeKind, type[Runtime]] = {
    RuntimeKind.DOCKER: DockerRuntime,
    RuntimeKind.PROCESS: ProcessRuntime,
}


def register_runtime(kind: str, runtime: type[Runtime]) -> RuntimeKind:
    """Make `kind` a valid `runtime.kind` served by `runtime`; returns the kind."""
    known = RuntimeKind.register(kind)
    RUNTIMES[known] = runtime
    return known


def unregister_runtime(kind: str) -> None:
    """Forget a kind registered at run time."""
    RUNTIMES.pop(RuntimeKind(kind), None)
    RuntimeKind.unregister(kind)


def get_runtime(kind: RuntimeKind | str | RuntimeSpec, *, python: str | Path | None = None) -> Runtime:
    """The adapter for `kind`; pass the recipe's whole `runtime:` section to carry `runtime.python`.

    `get_runtime(recipe.runtime)` is what apply wants (the process runtime then starts the engine
    through the recipe's interpreter); `get_runtime(handle.runtime)` is enough to observe, stop or
    remove an existing instance (a restart reuses the interpreter recorded at launch).
    Constructing a runtime does no I/O; the docker runtime connects on first use and raises
    `RuntimeUnavailable` then if no container engine answers.
    """
    spec = kind if isinstance(kind, RuntimeSpec) else None
    name = str(spec.kind if spec else kind)
    if name not in RUNTIMES:
        raise UsageError(
            f"unknown runtime {name!r}", hint=f"known runtimes: {', '.join(RUNTIMES)}", field="runtime.kind"
        )
    if spec is None or (python and not spec.python):
        spec = RuntimeSpec.model_validate({"kind": name, "python": python})
    return RUNTIMES[RuntimeKind(name)].from_spec(spec)


def runtime_for(handle: Handle) -> Runtime:
    """The adapter that manages an existing instance (restarts reuse the recorded interpreter)."""
    return get_runtime(handle.runtime)


def find_everywhere(deployment: str | None = None) -> tuple[list[Handle], dict[RuntimeKind, str]]:
    """Instances labelled by deployctl in every runtime, and why each runtime that could not be asked.

    An unreachable container engine is not an error here: the processes can still be listed, and the
    caller shows the reason (e.g. "cannot reach a container engine at ...").
    """
    handles: list[Handle] = []
    unreachable: dict[RuntimeKind, str] = {}
    for kind in RUNTIMES:
        try:
            handles.extend(get_runtime(kind).find(deployment))
        except RuntimeUnavailable as exc:
            unreachable[kind] = exc.message
    return handles, unreachable
