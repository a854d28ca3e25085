"""The Model Optimizer adapter: load the base model, build the config, calibrate (fake-quantize).

Everything that touches torch, transformers or modelopt for calibration lives here, imported
inside the functions. Failures become `QuantizeError`s that say what to do.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from deployctl.capability.calibration_placement import CalibrationPlacement
from deployctl.errors import QuantizeError
from deployctl.quantize.formats import format_plan, kv_plan
from deployctl.recipe.model import KvCacheFormat, QuantFormat


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


def weights_size(model_dir: Path) -> int:
    return sum(p.stat().st_size for p in model_dir.glob("*.safetensors"))


def load_model(model_dir: Path, placement: CalibrationPlacement, offload_dir: Path | None = None) -> Any:
    """The base model in its own dtype (dtype="auto"), in eval mode, where the plan placed it.

    `single`: loaded, then moved whole onto `placement.device`. Otherwise accelerate dispatches it:
    `device_map` "sequential" or "auto" with `max_memory` budgets per GPU and for the CPU, and an
    offload folder for what exceeds both, exactly as Model Optimizer's hf_ptq.py `get_model` does
    (examples/hf_ptq/example_utils.py @ a2fbac7b). Model Optimizer calibrates and exports such a
    dispatched model (modelopt/torch/quantization/plugins/accelerate.py: offloaded weights are
    materialised and written back per module); measured on the H200, the export of a model capped at
    15 GiB with the rest on the CPU was bit-identical to the whole-GPU one.
    """
    import torch
    from transformers import AutoModelForCausalLM

    kwargs: dict[str, Any] = {"dtype": "auto"}
    if placement.device_map != "single":
        budgets = {int(k) if k.isdigit() else k: v for k, v in placement.max_memory.items()}
        kwargs.update(device_map=placement.device_map, max_memory=budgets)
        if placement.offload_to_disk:
            assert offload_dir is not None, "an offloading placement needs a folder"
            kwargs["offload_folder"] = str(offload_dir)
    architectures = _architectures(model_dir)
    try:
        model = AutoModelForCausalLM.from_pretrained(model_dir, **kwargs)
    except (ValueError, KeyError) as exc:
        raise QuantizeError(
            f"transformers cannot load {model_dir} as a causal LM ({', '.join(architectures) or 'no architectures'})",
            hint="deployctl quantizes decoder-only language models (e.g. Qwen3ForCausalLM, LlamaForCausalLM)",
            details=[str(exc).splitlines()[0][:300]],
        ) from exc
    except (MemoryError, torch.OutOfMemoryError) as exc:
        raise QuantizeError(
            f"not enough memory to load {model_dir} {placement.where()}",
            hint="set quantization.max_gpu_memory_gib / max_cpu_memory_gib lower, or quantization.device: cpu",
        ) from exc
    if placement.device_map == "single":
        model = model.to(placement.device)
    return model.eval()


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
            hint="lower quantization.calibration.batch_size or seq_len, or quantization.max_gpu_memory_gib "
            "(more of the model then waits in host RAM)",
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
