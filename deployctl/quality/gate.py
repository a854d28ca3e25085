"""The task gate of a swap: the candidate engine must score as well as the engine it replaces.

Two steps, both taken by the executor:
1. `measure_serving` — while the old engine still serves (before a replace stops it): its scores for
   its checkpoint, from the kept results (quality.baseline) or measured now;
2. `verify` — after the candidate passed health and smoke, before the cutover: the candidate is
   evaluated on the same tasks, compared metric by metric (quality.scores.compare) and, on a drop
   beyond `quality.max_task_drop` + 2σ, `TaskGateFailed` is raised with the table; the executor then
   keeps (or restores) the old engine exactly as for a failed smoke test.

It applies when the recipe sets `quality.max_task_drop` and the swap changes the checkpoint (format,
KV cache or model): a change of engine flags alone serves the same weights. Without a serving engine to
measure and no kept scores, the swap goes ahead ungated, with a warning saying so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from deployctl.errors import TaskGateFailed
from deployctl.quality import baseline as kept
from deployctl.quality.harness import EvalTarget, evaluate_endpoint, lm_eval_version
from deployctl.quality.scores import Comparison, TaskResults, compare, comparison_lines, failures
from deployctl.quality.tasks import fingerprint
from deployctl.recipe.model import TaskQualitySpec

Reporter = Callable[[str], None]
Evaluator = Callable[..., TaskResults]


def gate_applies(spec: TaskQualitySpec, serving_checkpoint: str | None, candidate_checkpoint: str) -> bool:
    """Gate only swaps that change the weights served, and only when the recipe asks for it."""
    return spec.gated and serving_checkpoint is not None and serving_checkpoint != candidate_checkpoint


@dataclass
class TaskGate:
    """One swap's gate; `evaluate` is the harness (a stand-in only in the gate's own decision tests)."""

    deployment: str
    spec: TaskQualitySpec
    report: Reporter = lambda _: None
    evaluate: Evaluator = evaluate_endpoint
    baseline: TaskResults | None = None
    rows: list[Comparison] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def measure_serving(self, serving: EvalTarget | None, checkpoint: str) -> None:
        """The serving engine's scores: kept ones for its checkpoint, else measured on `serving` now."""
        cached = kept.load(self.deployment, checkpoint, fingerprint(self.spec, lm_eval_version()))
        if cached is not None:
            self.report(f"task baseline of checkpoint {checkpoint}: kept scores from an earlier evaluation")
            self.baseline = cached
        elif serving is None:
            self.warnings.append(
                f"no task baseline: the serving engine is not running and no scores are kept for checkpoint "
                f"{checkpoint}; this swap is not gated on quality.tasks"
            )
            self.report(f"warning: {self.warnings[-1]}")
        else:
            self.baseline = self.evaluate(serving, self.spec, report=self.report)
            kept.save(self.deployment, self.baseline)
            self.report(f"serving engine evaluated in {self.baseline.seconds:.1f} s")

    def verify(self, candidate: EvalTarget) -> list[Comparison]:
        """Evaluate the candidate and compare; raise TaskGateFailed (the table in its details) on a drop."""
        if self.baseline is None:
            return []
        results = self.evaluate(candidate, self.spec, report=self.report)
        kept.save(self.deployment, results)
        assert self.spec.max_task_drop is not None
        self.rows = compare(self.baseline, results, self.spec.max_task_drop)
        table = comparison_lines(self.rows)
        failed = failures(self.rows)
        if failed:
            worst = ", ".join(f"{row.task} {row.metric}" for row in failed)
            raise TaskGateFailed(
                f"the new engine scores worse than the serving one ({worst}); the swap was refused",
                details=[*table, f"rule: drop > {self.spec.max_task_drop:g} + 2·sqrt(se_serving² + se_new²)"],
                hint="keep the current format, or loosen quality.max_task_drop (raise quality.limit to shrink "
                "the stderr margin)",
                field="quality.max_task_drop",
            )
        for line in table:  # on a refusal the error carries the table instead
            self.report(line)
        self.report(f"candidate evaluated in {results.seconds:.1f} s: no task dropped beyond the gate")
        return self.rows


@dataclass
class SwapGate:
    """The executor's "verify candidate" hook for one swap: endpoints in, TaskGateFailed out.

    The executor knows only endpoints; what each engine serves (model name, tokenizer folder, key
    variable, checkpoint key) is fixed when the swap is planned (`swap_gate`).
    """

    gate: TaskGate
    serving: EvalTarget
    candidate: EvalTarget

    def prepare(self, serving_endpoint: str | None) -> None:
        """Before anything stops: the serving engine's baseline (None: it is not running)."""
        assert self.serving.checkpoint is not None
        target = replace(self.serving, base_url=serving_endpoint) if serving_endpoint else None
        self.gate.measure_serving(target, self.serving.checkpoint)

    def verify(self, candidate_endpoint: str) -> None:
        """After the candidate's smoke test, before the cutover."""
        self.gate.verify(replace(self.candidate, base_url=candidate_endpoint))

    @property
    def warnings(self) -> list[str]:
        return self.gate.warnings


def swap_gate(
    recipe: Any, previous: Any, checkpoint: Any, served_name: str, report: Reporter
) -> SwapGate | None:
    """The gate for applying `recipe` (with `checkpoint`) over `previous` state, or None when none applies."""
    if previous is None or not gate_applies(recipe.quality, previous.checkpoint_key, checkpoint.key):
        return None
    serving = EvalTarget(
        base_url=previous.endpoint,
        model=previous.spec.engine_args.served_name,
        tokenizer=previous.checkpoint_path,
        api_key_env=previous.spec.api_key_env,
        checkpoint=previous.checkpoint_key,
    )
    candidate = EvalTarget(
        base_url="",
        model=served_name,
        tokenizer=str(checkpoint.path),
        api_key_env=recipe.serve.api_key_env,
        checkpoint=checkpoint.key,
    )
    return SwapGate(TaskGate(recipe.name, recipe.quality, report=report), serving, candidate)
