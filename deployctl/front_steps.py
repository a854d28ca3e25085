"""The executor's steps that involve the front (called from the executor; they decide nothing).

- `front_steps`: the plan's `remove-front`, and its `front` step while the recorded engine serves
  (start the front, or switch it back to the recorded engine before an orphan it routes to goes);
- `serve_through_front`: after a create, restart, replace or restore, the front routes to the engine
  that passed its smoke test (started first if it is not running);
- `hold_front`: a replace's gap: the new checkpoint is read into the page cache while the old engine
  still serves, then the front drains the old engine and answers 503 + Retry-After;
- `blue_green_through_front`: new engine beside the old, switch, record, drain, retire.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from deployctl.front.cutover import serve_from, upstream, warm_page_cache
from deployctl.plan import OperationKind, Plan

if TYPE_CHECKING:
    from deployctl.instance import Handle
    from deployctl.run_context import Run


def front_steps(run: Run, plan: Plan, recorded: Handle | None) -> None:
    """`remove-front`, and `front` while the recorded engine serves (other engine steps route later)."""
    from deployctl.front.haproxy import HaproxyFront

    kinds = {op.kind for op in plan.operations}
    if OperationKind.REMOVE_FRONT in kinds:
        run.report(f"removing the front of {plan.deployment} (the recipe has none)")
        HaproxyFront(plan.deployment).remove()
    serving = plan.engine_operation.kind in (OperationKind.KEEP, OperationKind.BLUE_GREEN)
    if run.front and OperationKind.FRONT in kinds and serving and recorded is not None:
        serve_through_front(run, recorded)


def serve_through_front(run: Run, handle: Handle) -> None:
    assert run.front is not None
    serve_from(run.front, handle)
    run.result.endpoint = run.front.spec.public_url
    run.report(f"the front on {run.front.spec.public_url} routes to {handle.name} ({handle.endpoint})")


def hold_front(run: Run) -> float:
    """Warm the new checkpoint, then hold the front (503 from now on); returns when the gap began."""
    checkpoint = run.result.checkpoint
    if checkpoint is not None:
        tick = time.perf_counter()
        warm_page_cache(checkpoint.path).join()
        run.result.timings["page_cache"] = time.perf_counter() - tick
    assert run.front is not None
    front = run.front.adapter.observe()
    held_at = time.perf_counter()
    if front is not None and front.running:
        drained = run.front.adapter.hold(drain_timeout_s=run.front.drain_timeout_s)
        run.report(
            f"the front answers 503 + Retry-After until the new engine serves (drained {drained:.1f} s)"
        )
    return held_at


def blue_green_through_front(
    run: Run,
    old: Handle,
    *,
    start_new: Callable[[], Handle],
    record_new: Callable[[Handle], None],
    discard: Callable[[Handle], None],
) -> None:
    """The new engine starts beside the old one; the front switches only once it passed its smoke test.
    The executor passes its own steps: start (health, smoke, check), record in state, discard."""
    from deployctl.pause import pause

    front, runtime = run.front, run.world.runtime
    assert front is not None
    serve_from(front, old)  # a front that is down or routes elsewhere serves the old engine first
    run.report(f"starting the new engine beside {old.name}, which keeps serving {front.spec.public_url}")
    new = start_new()
    tick = time.perf_counter()
    try:
        front.adapter.switch(*upstream(new))
        pause("switched")
        record_new(new)
    except BaseException:
        front.adapter.route(*upstream(old), drain_timeout_s=front.drain_timeout_s)
        discard(new)
        raise
    run.result.timings["cutover"] = time.perf_counter() - tick
    run.result.downtime_s = 0.0
    run.result.endpoint = front.spec.public_url
    pause("recorded")
    drained = front.adapter.settle(drain_timeout_s=front.drain_timeout_s)
    run.report(f"{front.spec.public_url} now answers from {new.name}; {old.name} drained in {drained:.1f} s")
    run.report(f"retiring {old.name}")
    runtime.remove(old)
