"""Check a checkpoint folder before an engine loads it: what a bad export looks like, named by tensor.

Reads `config.json`, `hf_quant_config.json` (else config.json's `quantization_config`) and the
safetensors *headers*, plus the small floating-point scale tensors themselves. Standard library only:
no torch, no GPU, no numpy; a few KB per shard and a few bytes per scale, so it runs in `validate`,
`plan` and before every engine start.

Each `CheckpointFinding` names the tensor or field, what is wrong, and the fix. Errors refuse the
launch; warnings are printed. The engine facts (which quant_algo strings an engine version takes,
which formats carry an `input_scale`) are data: `data/checkpoints.yaml`, and the transformers
model types: `data/model_types.txt`.
"""

from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml

from deployctl.engine_version import version_matches
from deployctl.errors import CapabilityRejected

MAX_SCALE_ELEMENTS = 1 << 16  # per-tensor and per-channel scales; per-block ones (FP8 bytes) are skipped
_FLOATS = {"F32": ("f", 4), "F64": ("d", 8), "F16": ("e", 2)}
_KV_SCALES = {"k_proj": "k_scale", "v_proj": "v_scale"}  # MO quant_utils.py _KV_CACHE_REPLACEMENTS


@dataclass(frozen=True)
class CheckpointFinding:
    level: Literal["error", "warning"]
    subject: str  # a tensor name, or "file field"
    problem: str
    fix: str

    def line(self) -> str:
        return f"{self.subject}: {self.problem} — {self.fix}"


@dataclass(frozen=True)
class _Tensor:
    file: Path
    dtype: str
    shape: tuple[int, ...]
    begin: int  # absolute byte offset in the file
    end: int


@dataclass(frozen=True)
class _Folder:
    config: dict[str, Any]
    quant: dict[str, Any]  # hf_quant_config.json "quantization", or the inline equivalent; {} = none
    quant_file: str
    tensors: dict[str, _Tensor]


def check_checkpoint(
    folder: Path, *, engine: str, engine_version: str | None, kv_scales_fixed: bool = False
) -> list[CheckpointFinding]:
    """Every finding for `folder` as `engine` at `engine_version` would load it ([] = fine)."""
    data = _read(folder)
    findings = _model_type(data)
    algo = str(data.quant.get("quant_algo") or "").upper() or None
    kv_algo = str(data.quant.get("kv_cache_quant_algo") or "").upper() or None
    findings += _accepted(data, engine, engine_version, algo, kv_algo)
    findings += _scales(data)
    findings += _input_scales(data, algo)
    findings += _unquantized_experts(data)
    findings += _kv_scales(data, kv_algo, kv_scales_fixed)
    findings += _embeddings(data)
    return findings


def raise_if_unloadable(findings: list[CheckpointFinding], folder: Path, *, engine: str) -> list[str]:
    """`CapabilityRejected` listing every error; else the warnings' lines (for the caller to print)."""
    errors = [f for f in findings if f.level == "error"]
    if errors:
        raise CapabilityRejected(
            f"{engine} would fail to load the checkpoint at {folder}: {errors[0].subject}: {errors[0].problem}",
            hint=errors[0].fix,
            details=[f.line() for f in errors[1:]],
        )
    return [f.line() for f in findings if f.level == "warning"]


@cache
def _rules() -> dict[str, Any]:
    return yaml.safe_load(resources.files("deployctl.data").joinpath("checkpoints.yaml").read_text())


@cache
def known_model_types() -> frozenset[str]:
    text = resources.files("deployctl.data").joinpath("model_types.txt").read_text()
    return frozenset(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#"))


def _read(folder: Path) -> _Folder:
    config = _json(folder / "config.json") or {}
    quant_file = "hf_quant_config.json"
    quant = (_json(folder / quant_file) or {}).get("quantization") or {}
    inline = config.get("quantization_config") or {}
    if not quant and str(inline.get("quant_method", "")).lower() == "modelopt":
        quant, quant_file = inline, "config.json quantization_config"
    tensors: dict[str, _Tensor] = {}
    for shard in sorted(folder.glob("*.safetensors")):
        tensors.update(_header(shard))
    return _Folder(config, quant, quant_file, tensors)


def _json(path: Path) -> dict[str, Any] | None:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise CapabilityRejected(f"{path} cannot be read as JSON: {exc}", file=path) from None
    return value if isinstance(value, dict) else None


def _header(shard: Path) -> dict[str, _Tensor]:
    """The safetensors header: 8 bytes little-endian length, then JSON {name: {dtype, shape, data_offsets}}."""
    try:
        with open(shard, "rb") as file:
            (length,) = struct.unpack("<Q", file.read(8))
            header = json.loads(file.read(length))
    except (OSError, ValueError, struct.error) as exc:
        raise CapabilityRejected(
            f"{shard} is not a readable safetensors file ({exc})",
            file=shard,
            hint="export or download the checkpoint again",
        ) from None
    base = 8 + length
    return {
        name: _Tensor(
            shard,
            meta["dtype"],
            tuple(meta["shape"]),
            base + meta["data_offsets"][0],
            base + meta["data_offsets"][1],
        )
        for name, meta in header.items()
        if name != "__metadata__"
    }


def _values(tensor: _Tensor) -> list[float] | None:
    """A floating-point tensor's values (BF16 widened to F32); None for other dtypes or big tensors."""
    count = math.prod(tensor.shape)
    if count > MAX_SCALE_ELEMENTS or tensor.dtype not in (*_FLOATS, "BF16"):
        return None
    with open(tensor.file, "rb") as file:
        file.seek(tensor.begin)
        raw = file.read(tensor.end - tensor.begin)
    if tensor.dtype == "BF16":
        raw = b"".join(b"\0\0" + raw[i : i + 2] for i in range(0, len(raw), 2))
        code = "f"
    else:
        code = _FLOATS[tensor.dtype][0]
    return list(struct.unpack(f"<{count}{code}", raw))


def _model_type(data: _Folder) -> list[CheckpointFinding]:
    model_type = data.config.get("model_type")
    if not data.config:
        return [
            CheckpointFinding(
                "error",
                "config.json",
                "missing or empty",
                "the folder must hold the model's config.json (save_pretrained writes it)",
            )
        ]
    if model_type in known_model_types() or data.config.get("auto_map"):
        return []
    return [
        CheckpointFinding(
            "error",
            "config.json model_type",
            f"{model_type!r} is not a model type transformers 5.14.1 knows (and config.json has no auto_map)",
            "fix model_type in config.json, or use an engine whose transformers knows this model",
        )
    ]


def _accepted(
    data: _Folder, engine: str, version: str | None, algo: str | None, kv_algo: str | None
) -> list[CheckpointFinding]:
    if not data.quant:
        return []
    if not algo:
        return [
            CheckpointFinding(
                "error",
                f"{data.quant_file} quant_algo",
                "missing",
                "export the checkpoint again with Model Optimizer (export_hf_checkpoint)",
            )
        ]
    rows = [
        r for r in _rules()["engines"] if r["engine"] == engine and version_matches(version, r["versions"])
    ]
    findings = []
    for row in rows[:1]:
        label = f"{engine} {version or '(version unknown)'}"
        if algo not in row["quant_algos"]:
            findings.append(
                CheckpointFinding(
                    "error",
                    f"{data.quant_file} quant_algo",
                    f"{algo} is not served by {label} (it takes {', '.join(row['quant_algos'])})",
                    "quantize to a format this engine serves (`deployctl capabilities`), or serve the checkpoint with another engine",
                )
            )
        if kv_algo and kv_algo not in row["kv_cache_quant_algos"]:
            findings.append(
                CheckpointFinding(
                    "error",
                    f"{data.quant_file} kv_cache_quant_algo",
                    f"{kv_algo} is not served by {label}",
                    "quantize with quantization.kv_cache: fp8 or none",
                )
            )
    return findings


def _scales(data: _Folder) -> list[CheckpointFinding]:
    findings = []
    for name, tensor in sorted(data.tensors.items()):
        if not _is_scale(name):
            continue
        values = _values(tensor)
        if values is None:
            continue
        bad = [v for v in values if not math.isfinite(v) or v <= 0]
        if bad:
            what = (
                "NaN"
                if any(math.isnan(v) for v in bad)
                else "infinite"
                if any(math.isinf(v) for v in bad)
                else "zero or negative"
            )
            findings.append(
                CheckpointFinding(
                    "error",
                    name,
                    f"{len(bad)} of {len(values)} values are {what} (first: {bad[0]})",
                    "calibrate again (more or longer calibration samples); a zero or NaN scale makes the engine divide by zero or emit NaN",
                )
            )
    return findings


def _is_scale(name: str) -> bool:
    last = name.rsplit(".", 1)[-1]
    return last.endswith("_scale") or last.endswith("_scale_2")


def _quantized_linears(data: _Folder) -> list[str]:
    return sorted(name[: -len(".weight_scale")] for name in data.tensors if name.endswith(".weight_scale"))


def _input_scales(data: _Folder, algo: str | None) -> list[CheckpointFinding]:
    if not algo or not _rules()["input_scale"].get(algo, False):
        return []
    missing = [p for p in _quantized_linears(data) if f"{p}.input_scale" not in data.tensors]
    return [
        CheckpointFinding(
            "error",
            f"{prefix}.input_scale",
            f"missing: {algo} needs an activation scale for every quantized linear"
            + (" (an MoE expert that no calibration token was routed to)" if ".experts." in prefix else ""),
            "calibrate again with more samples (MoE: enough that every expert sees tokens), or exclude the layer from quantization",
        )
        for prefix in missing
    ]


def _unquantized_experts(data: _Folder) -> list[CheckpointFinding]:
    """An expert left in 16 bits beside quantized siblings: fused MoE kernels load one format for all."""
    quantized = set(_quantized_linears(data))
    experts = [n[: -len(".weight")] for n in data.tensors if ".experts." in n and n.endswith(".weight")]
    if not any(p in quantized for p in experts):
        return []
    return [
        CheckpointFinding(
            "error",
            f"{prefix}.weight",
            f"stored as {data.tensors[f'{prefix}.weight'].dtype} without a weight_scale while other experts "
            "are quantized (an expert calibration never reached)",
            "calibrate again with more samples so every expert sees tokens",
        )
        for prefix in sorted(experts)
        if prefix not in quantized
    ]


def _kv_scales(data: _Folder, kv_algo: str | None, fixed: bool) -> list[CheckpointFinding]:
    projections = sorted(
        name[: -len(".weight")]
        for name in data.tensors
        if name.endswith((".k_proj.weight", ".v_proj.weight"))
    )
    expected = [f"{p}.{_KV_SCALES[p.rsplit('.', 1)[-1]]}" for p in projections]
    present = [name for name in expected if name in data.tensors]
    if kv_algo and not fixed:
        return [
            CheckpointFinding(
                "error",
                name,
                f"missing while {data.quant_file} says kv_cache_quant_algo {kv_algo}",
                "quantize again with the KV cache calibrated, or use quantization.kv_cache_scales: fixed (no scale tensors, scale 1.0)",
            )
            for name in expected
            if name not in data.tensors
        ]
    if present and (fixed or not kv_algo):
        why = "kv_cache_scales: fixed was asked for" if kv_algo else "the KV cache is not quantized"
        return [
            CheckpointFinding(
                "warning" if not kv_algo else "error",
                present[0],
                f"{len(present)} k/v scale tensors present while {why}",
                "quantize again; the cache key includes quantization.kv_cache_scales",
            )
        ]
    return []


def _embeddings(data: _Folder) -> list[CheckpointFinding]:
    """Embeddings and lm_head stay unquantized in Model Optimizer exports (MO default_disabled_quantizers)."""
    findings = []
    embeds = [n for n in data.tensors if n.endswith("embed_tokens.weight")]
    heads = [n for n in data.tensors if n.endswith("lm_head.weight")]
    tied = bool(data.config.get("tie_word_embeddings", False))
    if data.tensors and not embeds:
        findings.append(
            CheckpointFinding(
                "warning",
                "embed_tokens.weight",
                "no embedding table found under the usual name",
                "check the export; engines look the embeddings up by name",
            )
        )
    if data.tensors and not heads and not tied:
        findings.append(
            CheckpointFinding(
                "error",
                "lm_head.weight",
                "missing while config.json has tie_word_embeddings false",
                "export again (lm_head must be saved), or set tie_word_embeddings: true if the model ties them",
            )
        )
    for name in (*embeds, *heads):
        if data.tensors[name].dtype not in ("BF16", "F16", "F32"):
            findings.append(
                CheckpointFinding(
                    "error",
                    name,
                    f"stored as {data.tensors[name].dtype}; engines expect it unquantized",
                    "exclude lm_head and embeddings from quantization (Model Optimizer does by default)",
                )
            )
    for name in heads:
        if f"{name[: -len('.weight')]}.weight_scale" in data.tensors and "lm_head" in str(
            data.quant.get("exclude_modules", [])
        ):
            findings.append(
                CheckpointFinding(
                    "error",
                    f"{name[: -len('.weight')]}.weight_scale",
                    "lm_head is quantized but exclude_modules lists it",
                    "export again; the checkpoint contradicts its own quantization config",
                )
            )
    return findings
