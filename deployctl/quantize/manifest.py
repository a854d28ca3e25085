"""`manifest.json`: what a cached checkpoint is, how it was made, and how good it is.

A checkpoint folder is used only when its manifest parses and names the folder's own key; the
manifest is the last file written before the folder is renamed into place, so its presence means
the export is complete.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from deployctl.atomic import atomic_write_text

MANIFEST = "manifest.json"
SCHEMA_VERSION = 1


class QualityReport(BaseModel):
    """Base vs fake-quantized model on held-out text (never the calibration samples)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    status: str = "ok"  # "ok", or "unavailable: <why>"
    eval_sequences: int = 0
    eval_tokens: int = 0
    perplexity_base: float | None = None  # llama.cpp: PPL(base)
    perplexity_quant: float | None = None  # llama.cpp: PPL(Q)
    perplexity_increase: float | None = None  # relative: 0.02 = +2 %
    top1_agreement: float | None = None  # llama.cpp: Same top p
    mean_kl: float | None = None  # mean over tokens of KL(base || quant), nats; llama.cpp: Mean KLD
    # Standard errors over tokens (absent in manifests written before they were measured).
    perplexity_base_stderr: float | None = None
    perplexity_quant_stderr: float | None = None
    top1_agreement_stderr: float | None = None
    mean_kl_stderr: float | None = None

    @property
    def available(self) -> bool:
        return self.status == "ok"


class Manifest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: int = SCHEMA_VERSION
    key: str
    key_inputs: dict[str, Any]
    model: str  # display name of the source
    model_revision: str | None = None
    model_path: str
    format: str
    kv_cache: str
    quant_algo: str | None = None
    kv_cache_quant_algo: str | None = None
    group_size: int | None = None
    versions: dict[str, str]
    device: str
    timings_s: dict[str, float]
    size_bytes: int
    base_size_bytes: int
    quality: QualityReport
    created_at: float
    # Where calibration ran (the plan's placement) and the peaks measured there; None before issue 18.
    calibration: dict[str, Any] | None = None


def read_manifest(folder: Path) -> Manifest | None:
    """The folder's manifest, or None when missing, unreadable or not for this folder's key."""
    try:
        manifest = Manifest.model_validate_json((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError, ValidationError):
        return None
    if manifest.key != folder.name or not (folder / "config.json").is_file():
        return None
    return manifest


def write_json_atomic(path: Path, data: Any) -> None:
    """Readers see the old or the new file, never half (deployctl.atomic)."""
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
