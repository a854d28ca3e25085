"""lm-eval's results as scores, and the gate's rule (pure: no endpoint, no lm-eval import)."""

from __future__ import annotations

import math

import pytest

from deployctl.quality.scores import (
    TaskResults,
    TaskScore,
    allowed_drop,
    compare,
    comparison_lines,
    failures,
    parse_results,
)

# The shape lm-eval 0.4.13's simple_evaluate returns (trimmed), values as json.dumps(default=float) writes them.
RAW = {
    "results": {
        "deployctl_cloze": {
            "alias": "deployctl_cloze",
            "acc,none": 0.85,
            "acc_stderr,none": 0.0359,
            "acc_norm,none": 0.8,
            "acc_norm_stderr,none": 0.0402,
        },
        "deployctl_next_word": {
            "alias": "deployctl_next_word",
            "exact_match,first_word": 0.5,
            "exact_match_stderr,first_word": "N/A",
        },
    },
    "higher_is_better": {
        "deployctl_cloze": {"acc": True, "acc_norm": True},
        "deployctl_next_word": {"exact_match": True},
    },
    "n-samples": {
        "deployctl_cloze": {"original": 207, "effective": 100},
        "deployctl_next_word": {"original": 207, "effective": 100},
    },
}


def test_every_metric_keeps_lm_evals_task_metric_and_filter_names_with_its_stderr() -> None:
    scores = {s.key: s for s in parse_results(RAW)}
    assert set(scores) == {
        ("deployctl_cloze", "acc", "none"),
        ("deployctl_cloze", "acc_norm", "none"),
        ("deployctl_next_word", "exact_match", "first_word"),
    }
    acc = scores[("deployctl_cloze", "acc", "none")]
    assert (acc.value, acc.stderr, acc.samples, acc.name) == (0.85, 0.0359, 100, "acc")
    words = scores[("deployctl_next_word", "exact_match", "first_word")]
    assert words.stderr is None and words.name == "exact_match (first_word)"


def results(*scores: tuple[float, float | None], higher: bool = True) -> TaskResults:
    return TaskResults(
        endpoint="http://127.0.0.1:1",
        model="m",
        tasks=("t",),
        scores=tuple(
            TaskScore(task="t", metric=f"m{i}", value=v, stderr=se, higher_is_better=higher)
            for i, (v, se) in enumerate(scores)
        ),
    )


@pytest.mark.parametrize(
    ("base", "cand", "max_drop", "outcome"),
    [
        ((0.80, 0.04), (0.80, 0.04), 0.0, "pass"),
        ((0.80, 0.04), (0.70, 0.045), 0.02, "pass"),
        ((0.80, 0.04), (0.25, 0.04), 0.02, "regression"),
        ((0.80, 0.0), (0.77, 0.0), 0.02, "regression"),
        ((0.80, 0.0), (0.79, 0.0), 0.02, "pass"),
        ((0.80, 0.04), (0.95, 0.02), 0.0, "pass"),
        ((0.80, 0.04), (math.nan, None), 0.5, "missing"),
    ],
    ids=[
        "the same score passes even with no allowed drop",
        "a drop inside max_drop plus two standard errors passes",
        "a damaged model's drop fails",
        "without stderr a drop beyond max_drop fails",
        "without stderr a drop within max_drop passes",
        "a better candidate passes",
        "a NaN score fails as missing",
    ],
)
def test_the_gate_rule(base, cand, max_drop, outcome) -> None:
    rows = compare(results(base), results(cand), max_drop)
    assert [row.outcome for row in rows] == [outcome]


def test_allowed_drop_is_max_drop_plus_two_standard_errors_of_the_difference() -> None:
    base = TaskScore(task="t", metric="acc", value=0.5, stderr=0.03)
    cand = TaskScore(task="t", metric="acc", value=0.5, stderr=0.04)
    assert allowed_drop(0.01, base, cand) == pytest.approx(0.01 + 2 * 0.05)


def test_lower_is_better_metrics_fail_when_they_rise() -> None:
    rows = compare(results((10.0, 0.1), higher=False), results((12.0, 0.1), higher=False), 0.5)
    assert rows[0].outcome == "regression" and rows[0].drop == pytest.approx(2.0)


def test_a_metric_the_candidate_lacks_fails_and_the_table_says_so() -> None:
    rows = compare(results((0.8, 0.01), (0.5, 0.01)), results((0.8, 0.01)), 0.02)
    assert [row.outcome for row in failures(rows)] == ["missing"]
    lines = comparison_lines(rows)
    assert lines[0].split()[:3] == ["task", "metric", "serving"]
    assert "0.8000 ± 0.0100" in lines[1] and lines[2].endswith("missing")
