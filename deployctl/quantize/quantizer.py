"""The Model Optimizer adapter: load the base model, build the config, calibrate (fake-quantize).

Everything that touches torch, transformers or modelopt for calibration lives here, imported
inside the functions. Failures become `QuantizeError`s that say what to do.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from deployctl.errors import QuantizeError
from deployctl.quantize.formats import format_plan, kv_plan
from deployctl.recipe.model import KvCacheFormat, QuantFormat

# Headroom over the weights' size: activations and calibration statistics (measured ~1.1× on tiny models).
MEMORY_FACTOR = 1.3


def build_quant_config(fmt: QuantFormat, kv: KvCacheFormat, kv_scales: str = "calibrated") -> dict[str, Any]:
    """A private copy of the preset, with KV-cache entries appended as hf_ptq does.

    `kv_scales: fixed` is Model Optimizer's fp8_cast form: the k/v BMM quantizers get
    `use_constant_amax: true` (modelopt_recipes/configs/ptq/units/kv_fp8_cast.yaml @ 0.47.0), which pins
    amax to 448 and registers no `_amax` buffer (modelopt/torch/quantization/config.py
    `use_constant_amax`), so the export writes no k_scale/v_scale tensors while hf_quant_config.json
    still says kv_cache_quant_algo FP8.
    """
    import modelopt.torch.quantization as mtq

    plan = format_plan(fmt)
    if plan is not None:
        config = copy.deepcopy(getattr(mtq, plan.config_name))
    else:  # KV cache only: every other quantizer off
        config = {"quant_cfg": [{"quantizer_name": "*", "enable": False}], "algorithm": "max"}
    kv_entry = kv_plan(kv)
    if kv_entry is not None:
        kv_cfg = copy.deepcopy(getattr(mtq, kv_entry.config_name)["quant_cfg"])
        if kv_scales == "fixed":
            kv_cfg = _constant_amax(kv_cfg)
        config = mtq.update_quant_cfg_with_kv_cache_quant(config, kv_cfg)
    return config


def _constant_amax(entries: Any) -> Any:
    """Every KV quantizer entry with `use_constant_amax: true` (the list and the dict form of quant_cfg)."""
    if isinstance(entries, dict):
        return {name: {**cfg, "use_constant_amax": True} for name, cfg in entries.items()}
    return [{**entry, "cfg": {**entry.get("cfg", {}), "use_constant_amax": True}} for entry in entries]


def check_memory(model_dir: Path, device: str) -> None:
    """Refuse early when the weights cannot fit, rather than dying half-way (or being OOM-killed)."""
    need = weights_size(model_dir) * MEMORY_FACTOR
    have = _available_bytes(device)
    if have is not None and need > have:
        raise QuantizeError(
            f"not enough {device.upper()} memory to calibrate: need ~{need / 2**30:.1f} GiB, "
            f"{have / 2**30:.1f} GiB available",
            hint="free memory, use a larger GPU, or quantize on another machine and point model.path at the export",
        )


def weights_size(model_dir: Path) -> int:
    return sum(p.stat().st_size for p in model_dir.glob("*.safetensors"))


def _available_bytes(device: str) -> int | None:
    if device.startswith("cuda"):
        import torch

        free, _total = torch.cuda.mem_get_info()
        return int(free)
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def load_model(model_dir: Path, device: str) -> Any:
    """The base model in its own dtype (dtype="auto"), on `device`, in eval mode."""
    import torch
    from transformers import AutoModelForCausalLM

    architectures = _architectures(model_dir)
    try:
        model = AutoModelForCausalLM.from_pretrained(model_dir, dtype="auto")
    except (ValueError, KeyError) as exc:
        raise QuantizeError(
            f"transformers cannot load {model_dir} as a causal LM ({', '.join(architectures) or 'no architectures'})",
            hint="deployctl quantizes decoder-only language models (e.g. Qwen3ForCausalLM, LlamaForCausalLM)",
            details=[str(exc).splitlines()[0][:300]],
        ) from exc
    except (MemoryError, torch.OutOfMemoryError) as exc:
        raise QuantizeError(f"not enough memory to load {model_dir}") from exc
    return model.to(device).eval()


def _architectures(model_dir: Path) -> list[str]:
    try:
        return list(json.loads((model_dir / "config.json").read_text()).get("architectures") or [])
    except (OSError, ValueError):
        return []


def calibrate(model: Any, config: dict[str, Any], loop: Any) -> int:
    """mtq.quantize in place; returns the number of enabled quantizers (0 means nothing to quantize)."""
    import modelopt.torch.quantization as mtq
    import torch
    from modelopt.torch.quantization.nn import TensorQuantizer

    try:
        mtq.quantize(model, config, forward_loop=loop)
    except (MemoryError, torch.OutOfMemoryError) as exc:
        raise QuantizeError(
            "ran out of memory during calibration",
            hint="lower quantization.calibration.batch_size or seq_len, or use a larger GPU",
        ) from exc
    except (AssertionError, ValueError, RuntimeError, NotImplementedError) as exc:
        raise QuantizeError(
            f"Model Optimizer failed to calibrate {type(model).__name__}: {type(exc).__name__}",
            details=[str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__],
            hint="check that Model Optimizer supports this architecture and format on this device",
        ) from exc
    enabled = sum(1 for m in model.modules() if isinstance(m, TensorQuantizer) and m.is_enabled)
    if enabled == 0:
        raise QuantizeError(
            f"Model Optimizer found no layers to quantize in {type(model).__name__}",
            hint="this architecture is not supported by Model Optimizer's HF quantization",
        )
    return enabled
