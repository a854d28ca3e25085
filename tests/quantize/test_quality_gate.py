"""The recipe's quality gate against a quality report (pure)."""

from __future__ import annotations

from pathlib import Path

import pytest

from deployctl.errors import QualityGateFailed
from deployctl.quantize.manifest import QualityReport
from deployctl.quantize.quality import enforce_gate, gate_failures, unavailable
from deployctl.recipe.model import QualityGate

GOOD = QualityReport(
    eval_sequences=4, eval_tokens=400, perplexity_base=10.0, perplexity_quant=10.2,
    perplexity_increase=0.02, top1_agreement=0.97, mean_kl=0.01,
)  # fmt: skip


@pytest.mark.parametrize(
    ("gate", "report", "fails"),
    [
        (QualityGate(), GOOD, []),
        (QualityGate(max_perplexity_increase="5%"), GOOD, []),
        (QualityGate(max_perplexity_increase="1%"), GOOD, ["perplexity rose"]),
        (QualityGate(min_top1_agreement=0.99), GOOD, ["top-1 agreement"]),
        (QualityGate(max_perplexity_increase=0.01, min_top1_agreement=0.99), GOOD, ["perplexity", "top-1"]),
        (QualityGate(), unavailable("needs CUDA"), []),
        (QualityGate(min_top1_agreement=0.5), unavailable("needs CUDA"), ["could not be measured"]),
    ],
    ids=[
        "no gate passes anything",
        "a 2 percent rise passes a 5 percent gate",
        "a 2 percent rise fails a 1 percent gate",
        "97 percent agreement fails a 99 percent floor",
        "both failures are reported",
        "no gate and no measurement passes",
        "a gate without a measurement fails",
    ],
)
def test_gate(gate, report, fails):
    failures = gate_failures(report, gate)
    assert len(failures) == len(fails)
    for failure, expected in zip(failures, fails, strict=True):
        assert expected in failure


def test_a_failed_gate_says_nothing_was_served_and_where_the_checkpoint_is():
    with pytest.raises(QualityGateFailed) as info:
        enforce_gate(GOOD, QualityGate(min_top1_agreement=0.99), Path("/cache/abc"))
    error = info.value
    assert "nothing was served" in error.message
    assert any("/cache/abc" in line for line in error.details)
    assert error.field == "quantization.quality"
