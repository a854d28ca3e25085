"""`deployctl status` and `destroy`: what runs, from both sides: the state documents and the instances the runtimes find by label.

`deployment_status` joins them into rows (an instance without a document shows up too, so nothing
deployctl started can hide), probing the health path of each running instance. `destroy_deployment`
removes every labelled instance of a deployment (active, candidates, stopped revisions kept for
rollback) and then its document; it is idempotent. Both are what `deployctl status`/`destroy` call.
"""

from __future__ import annotations

import shutil
from dataclasses import asdict, dataclass
from datetime import datetime

from deployctl import settings
from deployctl.errors import RuntimeUnavailable, StateError, unknown_deployment
from deployctl.instance import Handle
from deployctl.observe import HEALTH_PROBE_TIMEOUT_S, instance_health
from deployctl.recipe.model import dummy_weights_in
from deployctl.runtimes.registry import find_everywhere, runtime_for
from deployctl.state import DeploymentState, StateStore


@dataclass(frozen=True)
class StatusRow:
    deployment: str
    instance: str
    runtime: str
    role: str
    phase: str  # running / exited / missing / unknown (runtime unreachable)
    healthy: bool | None  # None: not probed (not running)
    endpoint: str
    engine: str | None = None
    model: str | None = None
    weights: str | None = None  # checkpoint, or dummy (engine-initialised); None without a state document
    exit_code: int | None = None
    in_state: bool = True  # False: found by label only (a candidate, or left over)
    updated_at: datetime | None = None

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class DestroyResult:
    deployment: str
    removed: tuple[str, ...]  # instance names
    state_deleted: bool

    @property
    def found_anything(self) -> bool:
        return bool(self.removed) or self.state_deleted


def deployment_status(
    name: str | None = None, store: StateStore | None = None
) -> tuple[list[StatusRow], list[str]]:
    """Rows for one deployment or all, and notes (e.g. an unreachable container engine, a damaged
    state file: shown as a `broken` row, never hiding the other deployments)."""
    store = store or StateStore()
    states, broken = _read_states(store, name)
    handles, unreachable = find_everywhere(name)
    notes = [f"{kind.value}: {reason}; its instances are not listed" for kind, reason in unreachable.items()]
    notes += [f"{error.file}: {error.message}. {error.hint}" for error in broken]
    rows = [_broken_row(error) for error in broken]
    rows += [_row(state.handle, state) for state in states]
    rows += [row for state in states if (row := _front_row(state)) is not None]
    known = {(state.handle.runtime, state.handle.id) for state in states}
    rows += [_row(handle, None) for handle in handles if (handle.runtime, handle.id) not in known]
    if name and not rows:
        raise unknown_deployment(name)
    return rows, notes


def _read_states(store: StateStore, name: str | None) -> tuple[list[DeploymentState], list[StateError]]:
    if name is None:
        return store.scan()
    try:
        state = store.load(name)
    except StateError as exc:
        return [], [exc]
    return ([state] if state else []), []


def _broken_row(error: StateError) -> StatusRow:
    from pathlib import Path

    return StatusRow(
        deployment=Path(str(error.file)).stem, instance="-", runtime="-", role="-", phase="broken state",
        healthy=None, endpoint="-",
    )  # fmt: skip


def destroy_deployment(name: str, store: StateStore | None = None, *, force: bool = False) -> DestroyResult:
    """Remove every instance labelled with `name`, then its state document; safe to repeat.

    `force`: also when the runtime the state names cannot be reached (what can be reached is removed,
    and the document is forgotten). A damaged document never stops destroy, forced or not."""
    store = store or StateStore()
    with store.lock(name):
        try:
            state = store.load(name)
        except StateError:
            state = None  # an unreadable document must not keep its instances alive
        handles, unreachable = find_everywhere(name)
        if state is not None and state.handle.runtime in unreachable and not force:
            raise RuntimeUnavailable(
                f"deployment {name} runs under {state.handle.runtime.value}, which cannot be reached; "
                "nothing was removed",
                details=[unreachable[state.handle.runtime]],
                hint=f"start it again, or `deployctl destroy {name} --force` to forget the deployment anyway",
            )
        removed = []
        for handle in handles:
            runtime_for(handle).remove(handle)
            removed.append(handle.name)
        from deployctl.front.haproxy import HaproxyFront, front_name

        front = HaproxyFront(name)
        if front.record() is not None:
            front.remove()
            removed.append(front_name(name))
        deleted = store.delete(name)
        remove_generated_files(name)
    return DestroyResult(deployment=name, removed=tuple(removed), state_deleted=deleted)


def remove_generated_files(deployment: str) -> None:
    """`<home>/run/<deployment>/`: files written for the deployment's local engines (never an
    instance's own folder, which holds a process record and is its runtime's to remove)."""
    folder = settings.home() / "run" / deployment
    from deployctl.runtimes.process import RECORD_FILE

    if folder.is_dir() and not (folder / RECORD_FILE).exists():
        shutil.rmtree(folder, ignore_errors=True)


def _front_row(state: DeploymentState) -> StatusRow | None:
    """The deployment's front, when it has one: its public address and whether it answers there."""
    from deployctl.front.haproxy import HaproxyFront, front_name

    seen = HaproxyFront(state.name).observe()
    if seen is None:
        return None
    healthy = None
    if seen.running:
        from deployctl.serve.health import probe

        healthy = (
            probe((seen.public_url or "") + state.spec.health_path, timeout_s=HEALTH_PROBE_TIMEOUT_S) == 200
        )
    upstreams = ", ".join(seen.upstreams) or "none (503)"
    return StatusRow(
        deployment=state.name, instance=front_name(state.name), runtime="process", role="front",
        phase="running" if seen.running else "exited", healthy=healthy,
        endpoint=f"{seen.public_url} → {upstreams}", engine="haproxy", in_state=True,
        updated_at=state.updated_at,
    )  # fmt: skip


def _row(handle: Handle, state: DeploymentState | None) -> StatusRow:
    phase: str
    try:
        instance = runtime_for(handle).state(handle)
        phase, exit_code = instance.phase, instance.exit_code
    except RuntimeUnavailable:
        phase, exit_code = "unknown", None
    healthy = None
    if phase == "running":
        healthy = instance_health(handle, state.spec.health_path if state else "/health")
    return StatusRow(
        deployment=handle.deployment,
        instance=handle.name,
        runtime=handle.runtime.value,
        role=handle.role,
        phase=phase,
        healthy=healthy,
        endpoint=handle.endpoint,
        engine=state.spec.engine if state else None,
        model=state.spec.engine_args.served_name if state else None,
        weights=("dummy" if dummy_weights_in(state.recipe) else "checkpoint") if state else None,
        exit_code=exit_code,
        in_state=state is not None,
        updated_at=state.updated_at if state else None,
    )
