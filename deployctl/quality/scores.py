"""lm-eval results as typed scores, and the gate's pure verdict: candidate against baseline.

Names are lm-eval's own: a task (`deployctl_cloze`, `gsm8k`), a metric (`acc`, `exact_match`), a filter
(`none`, `strict-match`) and the standard error lm-eval reports beside each value (`acc_stderr,none`),
so a table printed here reads like `lm_eval`'s own.

The rule (`allowed_drop`): a metric fails when it drops by more than `max_task_drop` plus twice the
standard error of the difference of two independent estimates, sqrt(se_base² + se_candidate²). With
lm-eval's sample stderr, two runs of the same model on the same examples differ by noise only, and a
2σ margin keeps that noise (about 1 run in 40 one-sided) from refusing a swap; a real regression larger
than the margin fails whatever the sample size. The margin shrinks as `limit` grows: raise it for a
tighter gate.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

Outcome = Literal["pass", "regression", "missing"]
SIGMAS = 2.0


class TaskScore(BaseModel):
    """One metric of one task, as lm-eval reported it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    task: str
    metric: str
    filter: str = "none"
    value: float
    stderr: float | None = None
    higher_is_better: bool = True
    samples: int | None = None

    @property
    def name(self) -> str:
        """`acc` or `exact_match (strict-match)`: the metric as a person reads it."""
        return self.metric if self.filter == "none" else f"{self.metric} ({self.filter})"

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.task, self.metric, self.filter)


class TaskResults(BaseModel):
    """One evaluation of an endpoint: every score, and what was run to get them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    endpoint: str
    model: str
    tasks: tuple[str, ...]
    scores: tuple[TaskScore, ...]
    limit: int | None = None
    fingerprint: str = ""  # of the task set and settings (quality.harness.fingerprint)
    lm_eval_version: str = ""
    seconds: float = 0.0
    checkpoint: str | None = None  # the served checkpoint's key, when known

    def score(self, key: tuple[str, str, str]) -> TaskScore | None:
        return next((s for s in self.scores if s.key == key), None)


class Comparison(BaseModel):
    """One metric, baseline against candidate, with the drop the gate allowed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    task: str
    metric: str
    filter: str
    baseline: float
    baseline_stderr: float | None
    candidate: float | None
    candidate_stderr: float | None
    drop: float | None  # positive = worse, in the metric's own units
    allowed: float
    outcome: Outcome


def parse_results(raw: dict[str, Any]) -> tuple[TaskScore, ...]:
    """lm-eval's `results` document → scores (numpy floats become floats; "N/A" stderr becomes None)."""
    scores = []
    for task, metrics in raw.get("results", {}).items():
        better = raw.get("higher_is_better", {}).get(task, {})
        samples = raw.get("n-samples", {}).get(task, {}).get("effective")
        for key, value in metrics.items():
            if "," not in key or "_stderr," in key or not _is_number(value):
                continue
            metric, filter_name = key.split(",", 1)
            stderr = metrics.get(f"{metric}_stderr,{filter_name}")
            scores.append(
                TaskScore(
                    task=task,
                    metric=metric,
                    filter=filter_name,
                    value=float(value),
                    stderr=float(stderr) if _is_number(stderr) else None,
                    higher_is_better=bool(better.get(metric, True)),
                    samples=int(samples) if samples is not None else None,
                )
            )
    return tuple(scores)


def allowed_drop(max_drop: float, baseline: TaskScore, candidate: TaskScore | None) -> float:
    """max_drop + 2·sqrt(se_base² + se_candidate²); a missing stderr counts as 0."""
    se_a = baseline.stderr or 0.0
    se_b = (candidate.stderr if candidate else None) or 0.0
    return max_drop + SIGMAS * math.sqrt(se_a**2 + se_b**2)


def compare(baseline: TaskResults, candidate: TaskResults, max_drop: float) -> list[Comparison]:
    """Every baseline metric against the candidate's; a metric the candidate lacks (or NaN) fails."""
    rows = []
    for base in baseline.scores:
        cand = candidate.score(base.key)
        allowed = allowed_drop(max_drop, base, cand)
        if cand is None or math.isnan(cand.value):
            drop, outcome = None, "missing"
        else:
            drop = base.value - cand.value if base.higher_is_better else cand.value - base.value
            outcome = "regression" if drop > allowed else "pass"
        rows.append(
            Comparison(
                task=base.task,
                metric=base.metric,
                filter=base.filter,
                baseline=base.value,
                baseline_stderr=base.stderr,
                candidate=cand.value if cand else None,
                candidate_stderr=cand.stderr if cand else None,
                drop=drop,
                allowed=allowed,
                outcome=outcome,  # type: ignore[arg-type]
            )
        )
    return rows


def failures(rows: list[Comparison]) -> list[Comparison]:
    return [row for row in rows if row.outcome != "pass"]


def comparison_lines(rows: list[Comparison]) -> list[str]:
    """The gate's table as plain lines (error details, logs): task, metric, both values ± stderr, drop."""
    header = (
        f"{'task':<24} {'metric':<22} {'serving':>16} {'candidate':>16} {'drop':>8} {'allowed':>8}  verdict"
    )
    lines = [header]
    for row in rows:
        metric = row.metric if row.filter == "none" else f"{row.metric} ({row.filter})"
        drop = "—" if row.drop is None else f"{row.drop:+.4f}"
        lines.append(
            f"{row.task:<24} {metric:<22} {_pm(row.baseline, row.baseline_stderr):>16} "
            f"{_pm(row.candidate, row.candidate_stderr):>16} {drop:>8} {row.allowed:>8.4f}  {row.outcome}"
        )
    return lines


def _pm(value: float | None, stderr: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.4f}" if stderr is None else f"{value:.4f} ± {stderr:.4f}"


def _is_number(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return not isinstance(value, (str, bool))
