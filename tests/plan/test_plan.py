"""The plan as golden text: built from hand-made observed state, no Docker, no mocks."""

from __future__ import annotations

import pytest

from deployctl.plan import Desired, Instance, Observed, OperationKind, make_plan

FP8 = Desired(
    deployment="qwen", spec_hash="aaa", checkpoint="ck-fp8", quantized=True, quantize_cost="~5 s as before"
)
BASE = Desired(deployment="qwen", spec_hash="bbb", checkpoint="ck-base", quantized=False)
UNKNOWN = Desired(
    deployment="qwen", spec_hash=None, checkpoint="Qwen/Qwen3-0.6B@main", quantized=True,
    quantize_cost="time unknown: no earlier export to compare with", missing_reason="quantize to nvfp4",
)  # fmt: skip


def running(name: str, spec: str, phase: str = "running") -> Instance:
    return Instance(name=name, spec_hash=spec, phase=phase)


def on_network(name: str, spec: str, phase: str = "running", attached: bool | None = True) -> Instance:
    return Instance(name=name, spec_hash=spec, phase=phase, attached=attached)


BLUE_GREEN_BASE = BASE.model_copy(
    update={"strategy": "blue-green", "strategy_note": "two engines fit", "service": "qwen:8000 on llm"}
)
A = "deployctl-qwen-aaa"
B = "deployctl-qwen-bbb"

CASES = [
    (
        "dummy weights: the plan says the engine makes the weights",
        BASE.model_copy(update={"checkpoint": "dummy:local:ck", "dummy_weights": True}),
        Observed(checkpoint_cached=True),
        """Plan for qwen:
  reuse-checkpoint  dummy:local:ck: config.json and tokenizer only: the engine initialises random weights (model.weights: dummy)
  create            engine qwen: no engine running
  → changes to apply""",
    ),
    (
        "a first apply quantizes and creates",
        FP8,
        Observed(),
        """Plan for qwen:
  quantize          ck-fp8: cache miss (~5 s as before)
  create            engine qwen: no engine running
  → changes to apply""",
    ),
    (
        "a cache miss beside the serving engine says where calibration runs and why",
        FP8.model_copy(
            update={"calibration": "calibration on GPU 1: GPU peak ~26.8 GiB, ~22 s (GPU 0: too little)"}
        ),
        Observed(recorded_instance=A, instances=(running(A, "zzz"),)),
        """Plan for qwen:
  quantize          ck-fp8: cache miss (~5 s as before); calibration on GPU 1: GPU peak ~26.8 GiB, ~22 s (GPU 0: too little)
  replace           engine qwen: spec zzz → aaa (deployctl-qwen-aaa kept until the new one passes its smoke test)
  → changes to apply""",
    ),
    (
        "an unchanged recipe with a healthy recorded engine is a no-op",
        FP8,
        Observed(recorded_instance=A, checkpoint_cached=True, instances=(running(A, "aaa"),)),
        """Plan for qwen:
  reuse-checkpoint  ck-fp8: cache hit
  keep              engine qwen: deployctl-qwen-aaa serves spec aaa
  → no changes""",
    ),
    (
        "a new format replaces the running engine and keeps the old one until the smoke test passes",
        BASE,
        Observed(recorded_instance=A, checkpoint_cached=True, instances=(running(A, "aaa"),)),
        """Plan for qwen:
  reuse-checkpoint  ck-base: base model, no quantization
  replace           engine qwen: spec aaa → bbb (deployctl-qwen-aaa kept until the new one passes its smoke test)
  → changes to apply""",
    ),
    (
        "a format never exported on this machine is planned without knowing its spec",
        UNKNOWN,
        Observed(recorded_instance=A, instances=(running(A, "aaa"),)),
        """Plan for qwen:
  quantize          Qwen/Qwen3-0.6B@main: cache miss: quantize to nvfp4 (time unknown: no earlier export to compare with)
  replace           engine qwen: spec aaa → the new checkpoint's spec (deployctl-qwen-aaa kept until the new one passes its smoke test)
  → changes to apply""",
    ),
    (
        "a base model that is not on disk yet is fetched first",
        BASE.model_copy(update={"missing_reason": "generate tiny-qwen3"}),
        Observed(),
        """Plan for qwen:
  fetch-model       ck-base: generate tiny-qwen3
  create            engine qwen: no engine running
  → changes to apply""",
    ),
    (
        "a stopped recorded engine with the same spec is restarted",
        BASE,
        Observed(recorded_instance=B, checkpoint_cached=True, instances=(running(B, "bbb", "exited"),)),
        """Plan for qwen:
  reuse-checkpoint  ck-base: base model, no quantization
  restart           engine qwen: deployctl-qwen-bbb is stopped
  → changes to apply""",
    ),
    (
        "a recorded engine that runs but fails its health check is restarted",
        BASE,
        Observed(recorded_instance=B, checkpoint_cached=True, instances=(running(B, "bbb", "unhealthy"),)),
        """Plan for qwen:
  reuse-checkpoint  ck-base: base model, no quantization
  restart           engine qwen: deployctl-qwen-bbb runs but fails its health check
  → changes to apply""",
    ),
    (
        "a recorded engine that vanished is created again",
        BASE,
        Observed(recorded_instance=B, checkpoint_cached=True),
        """Plan for qwen:
  reuse-checkpoint  ck-base: base model, no quantization
  create            engine qwen: recorded instance deployctl-qwen-bbb is gone
  → changes to apply""",
    ),
    (
        "killed after recording the new engine: the old one left stopped is removed",
        BASE,
        Observed(
            recorded_instance=B,
            checkpoint_cached=True,
            instances=(running(B, "bbb"), running(A, "aaa", "exited")),
        ),
        """Plan for qwen:
  reuse-checkpoint  ck-base: base model, no quantization
  remove-orphan     deployctl-qwen-aaa: not in state (exited, spec aaa)
  keep              engine qwen: deployctl-qwen-bbb serves spec bbb
  → changes to apply""",
    ),
    (
        "killed before recording the new engine: the unrecorded one is removed, the stopped old one replaced again",
        BASE,
        Observed(
            recorded_instance=A,
            checkpoint_cached=True,
            instances=(running(A, "aaa", "exited"), running(B, "bbb")),
        ),
        """Plan for qwen:
  reuse-checkpoint  ck-base: base model, no quantization
  remove-orphan     deployctl-qwen-bbb: not in state (running, spec bbb)
  replace           engine qwen: spec aaa → bbb (deployctl-qwen-aaa stopped now, restarted if the new one fails)
  → changes to apply""",
    ),
    (
        "killed mid-swap and the operator returns to the old recipe: the old engine is restarted",
        FP8,
        Observed(
            recorded_instance=A,
            checkpoint_cached=True,
            instances=(running(A, "aaa", "exited"), running(B, "bbb")),
        ),
        """Plan for qwen:
  reuse-checkpoint  ck-fp8: cache hit
  remove-orphan     deployctl-qwen-bbb: not in state (running, spec bbb)
  restart           engine qwen: deployctl-qwen-aaa is stopped
  → changes to apply""",
    ),
    (
        "a changed smoke prompt keeps the engine and only updates the state",
        FP8.model_copy(update={"recipe_hash": "r2"}),
        Observed(
            recorded_instance=A,
            recorded_recipe_hash="r1",
            checkpoint_cached=True,
            instances=(running(A, "aaa"),),
        ),
        """Plan for qwen:
  reuse-checkpoint  ck-fp8: cache hit
  keep              engine qwen: deployctl-qwen-aaa serves spec aaa
  record            state qwen: recipe r1 → r2 changes nothing the engine runs
  → changes to apply""",
    ),
    (
        "on a network where two engines fit, a new format starts beside the old one",
        BLUE_GREEN_BASE,
        Observed(recorded_instance=A, checkpoint_cached=True, instances=(on_network(A, "aaa"),)),
        """Plan for qwen:
  reuse-checkpoint  ck-base: base model, no quantization
  blue-green        engine qwen: spec aaa → bbb (the new engine starts beside deployctl-qwen-aaa, which serves until the new one passes its smoke test and qwen:8000 on llm moves to it); two engines fit; expected downtime 0 s
  → changes to apply""",
    ),
    (
        "blue-green wanted but the old engine is stopped: nothing serves, so it is a replace",
        BLUE_GREEN_BASE,
        Observed(recorded_instance=A, checkpoint_cached=True, instances=(running(A, "aaa", "exited"),)),
        """Plan for qwen:
  reuse-checkpoint  ck-base: base model, no quantization
  replace           engine qwen: spec aaa → bbb (deployctl-qwen-aaa stopped now, restarted if the new one fails); two engines fit
  → changes to apply""",
    ),
    (
        "killed after the new engine joined the network: the recorded one keeps the name, the new one goes",
        BLUE_GREEN_BASE.model_copy(update={"spec_hash": "aaa"}),
        Observed(
            recorded_instance=A,
            checkpoint_cached=True,
            instances=(on_network(A, "aaa"), on_network(B, "bbb", attached=None)),
        ),
        """Plan for qwen:
  reuse-checkpoint  ck-base: base model, no quantization
  remove-orphan     deployctl-qwen-bbb: not in state (running, spec bbb)
  keep              engine qwen: deployctl-qwen-aaa serves spec aaa
  → changes to apply""",
    ),
    (
        "killed after the old engine left the network: it is put back before the new one is removed",
        BLUE_GREEN_BASE.model_copy(update={"spec_hash": "aaa"}),
        Observed(
            recorded_instance=A,
            checkpoint_cached=True,
            instances=(on_network(A, "aaa", attached=False), on_network(B, "bbb", attached=None)),
        ),
        """Plan for qwen:
  reuse-checkpoint  ck-base: base model, no quantization
  attach            engine qwen: deployctl-qwen-aaa serves spec aaa but is not qwen:8000 on llm
  remove-orphan     deployctl-qwen-bbb: not in state (running, spec bbb)
  → changes to apply""",
    ),
]


@pytest.mark.parametrize(
    ("desired", "observed", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_plan_reads_as(desired: Desired, observed: Observed, expected: str) -> None:
    assert str(make_plan(desired, observed)) == expected


@pytest.mark.parametrize(
    ("observed", "changes"),
    [
        (Observed(recorded_instance=A, checkpoint_cached=True, instances=(running(A, "aaa"),)), False),
        (
            Observed(
                recorded_instance=A,
                checkpoint_cached=True,
                instances=(running(A, "aaa"), running(B, "x", "exited")),
            ),
            True,
        ),
        (Observed(recorded_instance=A, checkpoint_cached=False, instances=(running(A, "aaa"),)), True),
    ],
    ids=["nothing to do exits 0", "an orphan alone is a change", "a cache miss alone is a change"],
)
def test_plan_reports_changes_only_when_there_are_some(observed: Observed, changes: bool) -> None:
    assert make_plan(FP8, observed).has_changes is changes


def test_an_instance_outside_state_is_never_kept_even_when_it_matches() -> None:
    plan = make_plan(FP8, Observed(checkpoint_cached=True, instances=(running(A, "aaa"),)))
    assert plan.orphans == (A,)
    assert plan.engine_operation.kind is OperationKind.CREATE
