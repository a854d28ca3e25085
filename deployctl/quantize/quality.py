"""Quality of a quantization: the fake-quantized model against its own base, on held-out text.

The base pass runs before `mtq.quantize` changes the model in place; it keeps the base log-probs
(float32 when small, else float16: tokens × vocab × 2 bytes, ~1.2 GB for 4096 tokens of a 152k
vocab) so the quantized pass can compute KL(base‖quant) exactly. Figures: perplexity of both,
relative increase, next-token top-1 agreement, mean KL per token in nats — each with its standard
error over tokens, named as llama.cpp's `perplexity --kl-divergence` prints them (PPL(Q), PPL(base),
Mean KLD, Same top p: llama.cpp tools/perplexity/perplexity.cpp), so figures read alike across tools.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deployctl.errors import QualityGateFailed
from deployctl.quantize.manifest import QualityReport
from deployctl.recipe.model import QualityGate

FLOAT32_BUDGET_BYTES = 256 << 20
EVAL_SEQ_LEN = 256


@dataclass
class BaseReference:
    """What the base model predicted on the held-out batches."""

    batches: list[Any]  # input id tensors [b, n]
    logprobs: list[Any] = field(default_factory=list)  # [b, n-1, vocab] on CPU
    token_nll: list[Any] = field(default_factory=list)  # [b, n-1] float32 on CPU

    @property
    def tokens(self) -> int:
        return sum(t.numel() for t in self.token_nll)


def base_reference(model: Any, batches: list[Any], *, device: str) -> BaseReference:
    import torch

    reference = BaseReference(batches)
    vocab = model.config.vocab_size
    total_tokens = sum(b.numel() for b in batches)
    dtype = torch.float32 if total_tokens * vocab * 4 <= FLOAT32_BUDGET_BYTES else torch.float16
    with torch.no_grad():
        for ids in batches:
            logp, nll = _logprobs_and_nll(model, ids, device)
            reference.logprobs.append(logp.to("cpu", dtype))
            reference.token_nll.append(nll.cpu())
    return reference


def compare(model: Any, reference: BaseReference, *, device: str) -> QualityReport:
    """Run the fake-quantized model on the same batches and compare it with the base."""
    import torch

    nll, agree, kl = [], [], []
    with torch.no_grad():
        for ids, base_logp in zip(reference.batches, reference.logprobs, strict=True):
            logq, batch_nll = _logprobs_and_nll(model, ids, device)
            # Round the quantized model's log-probs exactly as the stored reference was (float16 for
            # large vocabularies): with near-flat distributions a float16 reference has ties, and an
            # argmax against float32 values would then count agreement as disagreement.
            logq = logq.cpu().to(base_logp.dtype).float()
            logp = base_logp.float()
            nll.append(batch_nll.cpu().flatten())
            agree.append((logp.argmax(-1) == logq.argmax(-1)).float().flatten())
            kl.append((logp.exp() * (logp - logq)).sum(-1).clamp_min(0).flatten())
    base_nll = torch.cat([t.flatten() for t in reference.token_nll])
    agreement, token_kl = torch.cat(agree), torch.cat(kl)
    ppl_base, ppl_base_se = _perplexity(base_nll)
    ppl_quant, ppl_quant_se = _perplexity(torch.cat(nll))
    return QualityReport(
        status="ok",
        eval_sequences=sum(b.shape[0] for b in reference.batches),
        eval_tokens=int(base_nll.numel()),
        perplexity_base=ppl_base,
        perplexity_base_stderr=ppl_base_se,
        perplexity_quant=ppl_quant,
        perplexity_quant_stderr=ppl_quant_se,
        perplexity_increase=ppl_quant / ppl_base - 1.0,
        top1_agreement=float(agreement.mean()),
        top1_agreement_stderr=_stderr(agreement),
        mean_kl=float(token_kl.mean()),
        mean_kl_stderr=_stderr(token_kl),
    )


def _stderr(values: Any) -> float:
    """Standard error of the mean over tokens (0 for a single token)."""
    count = values.numel()
    return float(values.double().std() / math.sqrt(count)) if count > 1 else 0.0


def _perplexity(token_nll: Any) -> tuple[float, float]:
    """exp(mean NLL) and its standard error by the delta method, as llama.cpp prints PPL ± error."""
    ppl = math.exp(float(token_nll.double().mean()))
    return ppl, ppl * _stderr(token_nll)


def _logprobs_and_nll(model: Any, ids: Any, device: str) -> tuple[Any, Any]:
    """Next-token log-probs [b, n-1, vocab] and each target token's NLL [b, n-1] (float32)."""
    import torch

    logits = model(ids.to(device)).logits[:, :-1].float()
    logp = torch.log_softmax(logits, dim=-1)
    targets = ids[:, 1:].to(device)
    nll = -logp.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    return logp, nll


def unavailable(reason: str) -> QualityReport:
    return QualityReport(status=f"unavailable: {reason}")


def gate_failures(report: QualityReport, gate: QualityGate) -> list[str]:
    """Why the report fails the recipe's gate; empty when it passes or no gate is set."""
    limits = gate.max_perplexity_increase is not None or gate.min_top1_agreement is not None
    if not limits:
        return []
    if not report.available:
        return [f"quality could not be measured ({report.status})"]
    failures = []
    limit = gate.max_perplexity_increase
    if limit is not None and report.perplexity_increase is not None and report.perplexity_increase > limit:
        failures.append(f"perplexity rose {report.perplexity_increase:+.2%} (limit {limit:+.2%})")
    floor = gate.min_top1_agreement
    if floor is not None and report.top1_agreement is not None and report.top1_agreement < floor:
        failures.append(f"top-1 agreement {report.top1_agreement:.2%} (minimum {floor:.2%})")
    return failures


def enforce_gate(report: QualityReport, gate: QualityGate, checkpoint: Path) -> None:
    """Raise QualityGateFailed, before anything is served, when the gate fails."""
    failures = gate_failures(report, gate)
    if failures:
        raise QualityGateFailed(
            "the quantized model fails the recipe's quality gate; nothing was served",
            details=failures
            + [f"the checkpoint stays cached at {checkpoint} (deployctl cache rm to drop it)"],
            hint="loosen quantization.quality, calibrate with more/other data, or pick a wider format",
            field="quantization.quality",
        )
