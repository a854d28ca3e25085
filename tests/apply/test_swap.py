"""Swapping what a deployment serves, for real: `transformers serve` on CPU, faults on cue, deployctl killed.

One deployment (`swap`) lives through the module. Each test starts from recipe A serving, does its
thing, and ends by checking what an operator cares about: the old (or new) endpoint answers the
smoke test, the state document names the engine that actually runs, and no other instance or
engine process is left. Order matters only for speed (engines are slow to start on 2 cores).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from deployctl.apply import apply_recipe, rollback
from deployctl.errors import EngineStartFailed, LockHeld, SmokeTestFailed, StateError
from deployctl.recipe.load import load_recipe
from deployctl.state import StateStore
from tests.apply.checks import assert_serves
from tests.apply.conftest import CLI, run_cli

pytestmark = pytest.mark.integration


def serve_a(recipes) -> float:
    """Converge to recipe A (a no-op when it serves already); returns seconds taken."""
    started = time.perf_counter()
    apply_recipe(load_recipe(recipes["A"]))
    return time.perf_counter() - started


def test_a_first_apply_serves_and_a_second_is_a_no_op_under_a_second(deployment, recipes) -> None:
    serve_a(recipes)
    pid = StateStore().load(deployment).handle.id
    started = time.perf_counter()
    result = apply_recipe(load_recipe(recipes["A"]))
    elapsed = time.perf_counter() - started
    assert not result.changed and elapsed < 1.0, f"no-op took {elapsed:.2f} s"
    assert StateStore().load(deployment).handle.id == pid
    assert_serves(recipes["A"], recipes["port"])


@pytest.mark.parametrize(
    ("recipe", "code", "shown"),
    [("A", 0, "no changes"), ("B", 3, "replace")],
    ids=["an unchanged recipe plans nothing and exits 0", "a changed dtype plans a replace and exits 3"],
)
def test_plan_compares_the_recipe_with_what_runs_and_touches_nothing(
    deployment, recipes, recipe, code, shown
):
    serve_a(recipes)
    pid = StateStore().load(deployment).handle.id
    done = run_cli("plan", recipes[recipe])
    assert done.returncode == code, done.stderr
    assert shown in done.stdout
    assert StateStore().load(deployment).handle.id == pid


@pytest.mark.parametrize(
    ("recipe", "failure", "says"),
    [
        ("crashes", EngineStartFailed, "exited"),
        ("never-healthy", EngineStartFailed, "within 2 s"),
        ("fails-smoke", SmokeTestFailed, "no text"),
    ],
    ids=[
        "a new engine that crashes at start leaves the old one serving",
        "a new engine that never becomes healthy leaves the old one serving",
        "a new engine that is healthy but fails the smoke test leaves the old one serving",
    ],
)
def test_a_failed_swap_restores_the_old_engine(deployment, recipes, recipe, failure, says) -> None:
    serve_a(recipes)
    with pytest.raises(failure) as raised:
        apply_recipe(load_recipe(recipes[recipe]))
    assert says in raised.value.message
    assert any("was restored and serves again" in d for d in raised.value.details)
    assert_serves(recipes["A"], recipes["port"])


def test_a_successful_swap_then_rollback_from_the_cache(deployment, recipes, models) -> None:
    serve_a(recipes)
    swapped = apply_recipe(load_recipe(recipes["C"]))
    assert swapped.downtime_s is not None and swapped.downtime_s < 60
    print(f"measured downtime of a replace: {swapped.downtime_s:.1f} s")
    assert_serves(recipes["C"], recipes["port"])

    back = rollback(deployment)
    assert back.downtime_s is not None
    assert_serves(recipes["A"], recipes["port"])

    revisions = StateStore().load(deployment).revisions
    c_revision = next(n for n, r in enumerate(revisions, 1) if r.checkpoint_path == str(models["seed1"]))
    import shutil

    shutil.rmtree(models["seed1"])  # as if garbage-collected
    with pytest.raises(StateError) as raised:
        rollback(deployment, to=c_revision)
    assert "is gone" in raised.value.message
    assert_serves(recipes["A"], recipes["port"])


STEPS = ["checkpoint", "stopped", "launched", "smoked", "recorded"]


@pytest.mark.parametrize(
    "step", STEPS, ids=[f"deployctl killed at {s}: the next apply converges" for s in STEPS]
)
def test_a_killed_swap_is_noticed_and_converged(deployment, recipes, step) -> None:
    serve_a(recipes)
    tick = time.perf_counter()
    paused = start_paused("apply", recipes["B"], step)
    paused.kill()
    paused.wait()
    print(f"apply B paused at {step} after {time.perf_counter() - tick:.1f} s")

    plan = run_cli("plan", recipes["A"])
    assert plan.returncode == (0 if step == "checkpoint" else 3), plan.stdout + plan.stderr
    if step in ("launched", "smoked"):
        assert "remove-orphan" in plan.stdout  # the unrecorded new engine
    if step == "recorded":
        assert "remove-orphan" in plan.stdout and "replace" in plan.stdout  # the unretired old engine

    serve_a(recipes)
    assert_serves(recipes["A"], recipes["port"])


def test_a_second_apply_fails_at_once_naming_the_holder(deployment, recipes) -> None:
    serve_a(recipes)
    pid = StateStore().load(deployment).handle.id
    holder = start_paused("apply", recipes["B"], "locked")
    try:
        started = time.perf_counter()
        with pytest.raises(LockHeld) as raised:
            apply_recipe(load_recipe(recipes["A"]))
        assert time.perf_counter() - started < 2
        assert f"pid {holder.pid}" in raised.value.message
    finally:
        holder.kill()
        holder.wait()
    assert StateStore().load(deployment).handle.id == pid
    assert_serves(recipes["A"], recipes["port"])


def start_paused(command: str, recipe_file, step: str) -> subprocess.Popen[str]:
    """Run the CLI until the apply test hook holds it at `step` (see deployctl/pause.py)."""
    env = {**os.environ, "DEPLOYCTL_TEST_PAUSE_AT": step}
    child = subprocess.Popen([*CLI, command, str(recipe_file)], stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 240
    seen = []
    assert child.stderr is not None
    while time.monotonic() < deadline:
        line = child.stderr.readline()
        if not line and child.poll() is not None:
            break
        seen.append(line)
        if f"paused at {step}" in line:
            return child
    child.send_signal(signal.SIGKILL)
    pytest.fail(f"apply never reached {step}:\n{''.join(seen)}")
