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


class _NearlyFlat:
    """A stand-in model whose next-token distribution is almost flat, like a random-weight model's:
    stored as float16 its log-probs tie, which is where an unrounded comparison goes wrong."""

    def __init__(self, vocab: int) -> None:
        self.config = type("Config", (), {"vocab_size": vocab})()

    def __call__(self, ids):
        import torch

        generator = torch.Generator().manual_seed(int(ids.sum()))
        logits = 1e-3 * torch.randn(*ids.shape, self.config.vocab_size, generator=generator)
        return type("Output", (), {"logits": logits})()


def test_the_same_model_agrees_with_itself_when_the_reference_is_stored_as_float16(monkeypatch) -> None:
    import torch

    from deployctl.quantize import quality

    monkeypatch.setattr(
        quality, "FLOAT32_BUDGET_BYTES", 0
    )  # force the float16 reference (large vocabularies)
    model = _NearlyFlat(vocab=4096)
    batches = [torch.randint(0, 4096, (2, 32), generator=torch.Generator().manual_seed(s)) for s in (1, 2)]
    reference = quality.base_reference(model, batches, device="cpu")
    assert reference.logprobs[0].dtype == torch.float16
    report = quality.compare(model, reference, device="cpu")
    assert report.top1_agreement == 1.0
    assert abs(report.perplexity_increase) < 1e-6 and report.mean_kl < 1e-6
