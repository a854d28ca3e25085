"""The gate's decisions around the harness: which swaps it gates, when it measures the serving engine,
that kept scores are reused, and what a refusal says. The evaluator here is a stand-in returning set
scores; lm-eval itself runs against a real engine in test_gate_vllm.py."""

from __future__ import annotations

import pytest

from deployctl.errors import TaskGateFailed
from deployctl.quality.gate import TaskGate, gate_applies
from deployctl.quality.harness import EvalTarget
from deployctl.quality.scores import TaskResults, TaskScore
from deployctl.recipe.model import TaskQualitySpec

SPEC = TaskQualitySpec(tasks=("deployctl_cloze",), limit=40, max_task_drop=0.05)


@pytest.mark.parametrize(
    ("spec", "serving", "candidate", "applies"),
    [
        (SPEC, "ckpt-a", "ckpt-b", True),
        (SPEC, "ckpt-a", "ckpt-a", False),
        (SPEC, None, "ckpt-b", False),
        (TaskQualitySpec(), "ckpt-a", "ckpt-b", False),
    ],
    ids=[
        "a swap to another checkpoint is gated",
        "a restart with the same checkpoint is not",
        "a first deployment has nothing to compare with",
        "a recipe without max_task_drop asks for no gate",
    ],
)
def test_which_swaps_are_gated(spec, serving, candidate, applies) -> None:
    assert gate_applies(spec, serving, candidate) is applies


class Scores:
    """Stand-in evaluator: the accuracy each checkpoint scores, and which checkpoints were evaluated."""

    def __init__(self, acc: dict[str, float]) -> None:
        self.acc, self.calls = acc, []

    def __call__(self, target: EvalTarget, spec: TaskQualitySpec, report) -> TaskResults:
        from deployctl.quality.harness import lm_eval_version
        from deployctl.quality.tasks import fingerprint

        self.calls.append(target.checkpoint)
        score = TaskScore(
            task="deployctl_cloze", metric="acc", value=self.acc[target.checkpoint], stderr=0.05
        )
        return TaskResults(endpoint=target.base_url, model=target.model, tasks=spec.tasks, scores=(score,),
                           fingerprint=fingerprint(spec, lm_eval_version()), checkpoint=target.checkpoint)  # fmt: skip


def target(checkpoint: str) -> EvalTarget:
    return EvalTarget(base_url="http://127.0.0.1:1", model="m", checkpoint=checkpoint)


def test_a_drop_beyond_the_gate_is_refused_with_the_table() -> None:
    evaluate = Scores({"a": 0.85, "damaged": 0.25})
    gate = TaskGate("d", SPEC, evaluate=evaluate)
    gate.measure_serving(target("a"), "a")
    with pytest.raises(TaskGateFailed) as refused:
        gate.verify(target("damaged"))
    assert "the swap was refused" in refused.value.message
    assert refused.value.field == "quality.max_task_drop"
    row = next(line for line in refused.value.details if line.startswith("deployctl_cloze"))
    assert "0.8500 ± 0.0500" in row and "0.2500 ± 0.0500" in row and row.endswith("regression")


def test_kept_scores_are_the_next_baseline_and_the_serving_engine_is_not_evaluated_again() -> None:
    evaluate = Scores({"a": 0.85, "b": 0.84, "c": 0.86})
    first = TaskGate("d", SPEC, evaluate=evaluate)
    first.measure_serving(target("a"), "a")
    first.verify(target("b"))
    second = TaskGate("d", SPEC, evaluate=evaluate)
    second.measure_serving(target("b"), "b")  # b was evaluated as the candidate: its scores are kept
    second.verify(target("c"))
    assert evaluate.calls == ["a", "b", "c"]


def test_without_a_serving_engine_or_kept_scores_the_swap_goes_ahead_with_a_warning() -> None:
    evaluate = Scores({"b": 0.1})
    gate = TaskGate("d", SPEC, evaluate=evaluate)
    gate.measure_serving(None, "gone")
    assert gate.verify(target("b")) == [] and evaluate.calls == []
    assert "not gated" in gate.warnings[0]
