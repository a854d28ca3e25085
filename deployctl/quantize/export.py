"""Write the unified HF checkpoint: Model Optimizer's export plus what it leaves out.

`export_hf_checkpoint` (modelopt 0.47 `modelopt/torch/export/unified_export_hf.py`) writes config.json
with `quantization_config`, hf_quant_config.json and the safetensors, but not the tokenizer; hf_ptq.py
saves it separately, and so do we. Everything goes into a temp folder inside the cache; `cache.publish`
renames it into place only after manifest.json, the last file, is written.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from deployctl.errors import QuantizeError
from deployctl.quantize.formats import format_plan, kv_plan
from deployctl.quantize.manifest import MANIFEST, Manifest, write_json_atomic
from deployctl.quantize.source import TOKENIZER_FILES
from deployctl.recipe.model import KvCacheFormat, QuantFormat

HF_QUANT_CONFIG = "hf_quant_config.json"


def export_checkpoint(model: Any, work_dir: Path, source_dir: Path) -> None:
    """Export the calibrated model and copy tokenizer and generation config from the source."""
    import torch
    from modelopt.torch.export import export_hf_checkpoint

    try:
        with torch.inference_mode():
            export_hf_checkpoint(model, export_dir=str(work_dir))
    except (MemoryError, torch.OutOfMemoryError) as exc:
        raise QuantizeError("ran out of memory while exporting the checkpoint") from exc
    # modelopt raises plain AssertionError/ValueError/KeyError for unsupported models
    except Exception as exc:
        raise QuantizeError(
            f"Model Optimizer could not export {type(model).__name__}: {type(exc).__name__}",
            details=[str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__],
            hint="this architecture may not be supported by export_hf_checkpoint in this Model Optimizer version",
        ) from exc
    for name in (*TOKENIZER_FILES, "generation_config.json"):
        source = source_dir / name
        if source.is_file() and not (work_dir / name).exists():
            shutil.copy2(source, work_dir / name)


def read_quant_section(work_dir: Path) -> dict[str, Any]:
    """hf_quant_config.json's `quantization` object ({} for an unquantized export)."""
    try:
        data = json.loads((work_dir / HF_QUANT_CONFIG).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except ValueError as exc:
        raise QuantizeError(f"{HF_QUANT_CONFIG} written by Model Optimizer is not JSON: {exc}") from exc
    return dict(data.get("quantization") or {})


def verify_export(work_dir: Path, fmt: QuantFormat, kv: KvCacheFormat) -> dict[str, Any]:
    """The export must say what we asked for; engines pick their kernels from these strings."""
    section = read_quant_section(work_dir)
    plan, kv_entry = format_plan(fmt), kv_plan(kv)
    expected = {
        "quant_algo": plan.quant_algo if plan else None,
        "kv_cache_quant_algo": kv_entry.kv_cache_quant_algo if kv_entry else None,
    }
    wrong = [f"{k}: expected {v}, got {section.get(k)}" for k, v in expected.items() if section.get(k) != v]
    if wrong:
        raise QuantizeError(
            "Model Optimizer's export does not describe the requested format",
            details=wrong,
            hint="some layers of this architecture may not support the format; try another format",
        )
    if not any(work_dir.glob("*.safetensors")):
        raise QuantizeError("Model Optimizer's export wrote no safetensors weights")
    return section


def write_manifest(work_dir: Path, manifest: Manifest) -> None:
    write_json_atomic(work_dir / MANIFEST, manifest.model_dump(mode="json"))
