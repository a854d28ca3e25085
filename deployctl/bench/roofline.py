"""The batch-1 decode ceiling: each generated token reads every weight once, so a GPU cannot decode
one sequence faster than memory bandwidth ÷ bytes of weights (KV reads make the true ceiling lower).

Pure arithmetic. Bandwidth comes from the GPU catalogue (datasheet figures, estimates only) or the
command line; bytes from the checkpoint's size on disk or the command line.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Roofline:
    bandwidth_gb_s: float
    model_bytes: int
    measured_tokens_per_s: float | None = None

    @property
    def tokens_per_s(self) -> float:
        return self.bandwidth_gb_s * 1e9 / self.model_bytes

    @property
    def fraction(self) -> float | None:
        """Measured batch-1 decode speed as a share of the ceiling (0.72 = 72 %)."""
        if self.measured_tokens_per_s is None:
            return None
        return self.measured_tokens_per_s / self.tokens_per_s

    def as_dict(self) -> dict[str, float | int | None]:
        return {
            "bandwidth_gb_s": self.bandwidth_gb_s,
            "model_bytes": self.model_bytes,
            "roofline_tokens_per_s": self.tokens_per_s,
            "measured_decode_tokens_per_s": self.measured_tokens_per_s,
            "roofline_fraction": self.fraction,
        }


def decode_rate_from_tpot(median_tpot_ms: float | None) -> float | None:
    """One sequence's decode speed (tokens/s) from its time per output token."""
    if not median_tpot_ms or median_tpot_ms <= 0:
        return None
    return 1000.0 / median_tpot_ms


def weights_bytes(folder: Path) -> int:
    """Bytes of weight files in a checkpoint folder (safetensors, else any .bin/.pt)."""
    files = list(folder.glob("*.safetensors")) or [*folder.glob("*.bin"), *folder.glob("*.pt")]
    return sum(f.stat().st_size for f in files)
