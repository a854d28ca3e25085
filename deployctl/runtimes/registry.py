"""Runtime kind → adapter; and observation across every runtime (for `status` and `destroy`)."""

from __future__ import annotations

from pathlib import Path

from deployctl.errors import RuntimeUnavailable
from deployctl.instance import Handle
from deployctl.recipe.model import RuntimeKind, RuntimeSpec
from deployctl.runtimes.base import Runtime


def get_runtime(kind: RuntimeKind | str | RuntimeSpec, *, python: str | Path | None = None) -> Runtime:
    """The adapter for `kind`; pass the recipe's whole `runtime:` section to carry `runtime.python`.

    `get_runtime(recipe.runtime)` is what apply wants (the process runtime then starts the engine
    through the recipe's interpreter); `get_runtime(handle.runtime)` is enough to observe, stop or
    remove an existing instance (a restart reuses the interpreter recorded at launch).
    Constructing a runtime does no I/O; the docker runtime connects on first use and raises
    `RuntimeUnavailable` then if no container engine answers.
    """
    if isinstance(kind, RuntimeSpec):
        kind, python = kind.kind, python or kind.python
    kind = RuntimeKind(kind)
    if kind is RuntimeKind.DOCKER:
        from deployctl.runtimes.docker import DockerRuntime

        return DockerRuntime()
    from deployctl.runtimes.process import ProcessRuntime

    return ProcessRuntime(python=python)


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
    for kind in RuntimeKind:
        try:
            handles.extend(get_runtime(kind).find(deployment))
        except RuntimeUnavailable as exc:
            unreachable[kind] = exc.message
    return handles, unreachable
