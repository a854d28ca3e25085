"""check_checkpoint on hand-written Model Optimizer-shaped checkpoints, each corrupted on purpose.

The layout (tensor names, dtypes, hf_quant_config.json) is that of nvidia-modelopt 0.47.0's unified HF
export (`modelopt/torch/export/unified_export_hf.py`, `quant_utils.py`); the real exports of tiny models
are checked in tests/quantize/test_checkpoint_check_exports.py.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from deployctl.checkpoint_check import check_checkpoint, raise_if_unloadable
from deployctl.errors import CapabilityRejected

_CODES = {"F32": ("f", 4), "F16": ("e", 2)}
LINEARS = ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj", "mlp.down_proj")


def write_safetensors(path: Path, tensors: dict[str, tuple[str, tuple[int, ...], bytes]]) -> None:
    """The safetensors layout by hand: u64 header length, JSON header, then the raw bytes."""
    header, blob = {}, b""
    for name, (dtype, shape, raw) in tensors.items():
        header[name] = {
            "dtype": dtype,
            "shape": list(shape),
            "data_offsets": [len(blob), len(blob) + len(raw)],
        }
        blob += raw
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    path.write_bytes(struct.pack("<Q", len(text)) + text + blob)


def f32(*values: float) -> tuple[str, tuple[int, ...], bytes]:
    return "F32", (len(values),) if len(values) > 1 else (), struct.pack(f"<{len(values)}f", *values)


def fp8_checkpoint(
    folder: Path,
    *,
    kv: bool = True,
    model_type: str = "qwen3",
    quant_algo: str = "FP8",
    experts: int = 0,
    change: dict | None = None,
    drop: tuple[str, ...] = (),
) -> Path:
    """A 2-layer FP8 export (FP8 KV when `kv`), optionally with MoE experts; `change`/`drop` corrupt it."""
    folder.mkdir(parents=True, exist_ok=True)
    tensors: dict = {
        "model.embed_tokens.weight": ("BF16", (8, 4), b"\0" * 64),
        "lm_head.weight": ("BF16", (8, 4), b"\0" * 64),
    }
    prefixes = [f"model.layers.{i}.{linear}" for i in range(2) for linear in LINEARS]
    prefixes += [f"model.layers.{i}.mlp.experts.{e}.up_proj" for i in range(2) for e in range(experts)]
    for prefix in prefixes:
        tensors[f"{prefix}.weight"] = ("F8_E4M3", (4, 4), b"\x38" * 16)
        tensors[f"{prefix}.weight_scale"] = f32(0.01)
        tensors[f"{prefix}.input_scale"] = f32(0.02)
        if kv and prefix.endswith("k_proj"):
            tensors[f"{prefix}.k_scale"] = f32(1.0)
        if kv and prefix.endswith("v_proj"):
            tensors[f"{prefix}.v_scale"] = f32(1.0)
    tensors.update(change or {})
    for name in drop:
        del tensors[name]
    write_safetensors(folder / "model.safetensors", tensors)
    quant = {
        "quant_algo": quant_algo,
        "kv_cache_quant_algo": "FP8" if kv else None,
        "exclude_modules": ["lm_head"],
    }
    (folder / "hf_quant_config.json").write_text(json.dumps({"quantization": quant}))
    config = {
        "model_type": model_type,
        "tie_word_embeddings": False,
        "quantization_config": {"quant_method": "modelopt", **quant},
    }
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def subjects(folder: Path, version: str = "0.33.0", **kwargs) -> list[str]:
    findings = check_checkpoint(folder, engine="vllm", engine_version=version, **kwargs)
    return [f.subject for f in findings if f.level == "error"]


def test_a_good_fp8_export_with_fp8_kv_has_no_findings(tmp_path: Path) -> None:
    assert check_checkpoint(fp8_checkpoint(tmp_path), engine="vllm", engine_version="0.33.0") == []


@pytest.mark.parametrize(
    ("corruption", "tensor"),
    [
        pytest.param(
            {"change": {"model.layers.1.self_attn.o_proj.weight_scale": f32(0.0)}},
            "model.layers.1.self_attn.o_proj.weight_scale",
            id="a zero weight scale is named",
        ),
        pytest.param(
            {"change": {"model.layers.0.mlp.down_proj.input_scale": f32(float("nan"))}},
            "model.layers.0.mlp.down_proj.input_scale",
            id="a NaN input scale is named",
        ),
        pytest.param(
            {"drop": ("model.layers.1.self_attn.k_proj.k_scale",)},
            "model.layers.1.self_attn.k_proj.k_scale",
            id="a missing k_scale with an fp8 KV cache is named",
        ),
        pytest.param(
            {"experts": 4, "drop": ("model.layers.1.mlp.experts.3.up_proj.input_scale",)},
            "model.layers.1.mlp.experts.3.up_proj.input_scale",
            id="an expert calibration never reached (no input_scale) is named",
        ),
        pytest.param(
            {
                "experts": 4,
                "drop": (
                    "model.layers.0.mlp.experts.2.up_proj.weight_scale",
                    "model.layers.0.mlp.experts.2.up_proj.input_scale",
                ),
                "change": {"model.layers.0.mlp.experts.2.up_proj.weight": ("BF16", (4, 4), b"\0" * 32)},
            },
            "model.layers.0.mlp.experts.2.up_proj.weight",
            id="an expert left unquantized beside quantized ones is named",
        ),
        pytest.param(
            {"model_type": "qwen9_imaginary"}, "config.json model_type", id="an unknown model_type is named"
        ),
        pytest.param(
            {"quant_algo": "W4A16_AWQ"},
            "hf_quant_config.json quant_algo",
            id="a quant_algo vLLM refuses is named",
        ),
        pytest.param({"drop": ("lm_head.weight",)}, "lm_head.weight", id="a missing untied lm_head is named"),
        pytest.param(
            {"change": {"lm_head.weight": ("F8_E4M3", (8, 4), b"\0" * 32)}},
            "lm_head.weight",
            id="an fp8 lm_head is named",
        ),
    ],
)
def test_each_corruption_is_refused_naming_the_tensor(tmp_path: Path, corruption: dict, tensor: str) -> None:
    folder = fp8_checkpoint(tmp_path / "ckpt", **corruption)
    assert tensor in subjects(folder)
    with pytest.raises(CapabilityRejected) as refused:
        raise_if_unloadable(
            check_checkpoint(folder, engine="vllm", engine_version="0.33.0"), folder, engine="vllm"
        )
    shown = refused.value.message + "\n".join(refused.value.details)
    assert tensor in shown and refused.value.hint


def test_a_zero_scale_in_bf16_is_found_too(tmp_path: Path) -> None:
    folder = fp8_checkpoint(
        tmp_path, change={"model.layers.0.self_attn.q_proj.weight_scale": ("BF16", (), b"\0\0")}
    )
    assert subjects(folder) == ["model.layers.0.self_attn.q_proj.weight_scale"]


def test_fixed_kv_scales_expect_no_scale_tensors(tmp_path: Path) -> None:
    no_scales = fp8_checkpoint(
        tmp_path / "cast",
        drop=tuple(f"model.layers.{i}.self_attn.{p}_proj.{p}_scale" for i in range(2) for p in "kv"),
    )
    assert subjects(no_scales, kv_scales_fixed=True) == []
    assert len(subjects(no_scales)) == 4  # the calibrated form needs all four
    with_scales = fp8_checkpoint(tmp_path / "calibrated")
    assert subjects(with_scales, kv_scales_fixed=True) == ["model.layers.0.self_attn.k_proj.k_scale"]


def test_scales_without_a_quantized_kv_cache_only_warn(tmp_path: Path) -> None:
    folder = fp8_checkpoint(tmp_path, kv=False, change={"model.layers.0.self_attn.k_proj.k_scale": f32(1.0)})
    findings = check_checkpoint(folder, engine="vllm", engine_version="0.24.0")
    assert [f.level for f in findings] == ["warning"]


def test_an_unquantized_checkpoint_is_checked_for_its_model_type_only(tmp_path: Path) -> None:
    write_safetensors(
        tmp_path / "model.safetensors", {"model.embed_tokens.weight": ("BF16", (2, 2), b"\0" * 8)}
    )
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "llama", "tie_word_embeddings": True}))
    assert check_checkpoint(tmp_path, engine="vllm", engine_version=None) == []


def test_a_truncated_shard_is_a_clear_error(tmp_path: Path) -> None:
    folder = fp8_checkpoint(tmp_path)
    (folder / "model.safetensors").write_bytes(b"\x10\0\0")
    with pytest.raises(CapabilityRejected, match="not a readable safetensors file"):
        check_checkpoint(folder, engine="vllm", engine_version="0.33.0")


def test_validate_refuses_an_already_quantized_model_path_naming_the_tensor(tmp_path: Path) -> None:
    import yaml

    from tests.cli_helpers import run_cli

    folder = fp8_checkpoint(
        tmp_path / "model", change={"model.layers.1.mlp.down_proj.weight_scale": f32(0.0)}
    )
    recipe = tmp_path / "prequantized.yaml"
    recipe.write_text(
        yaml.safe_dump({"name": "pre", "model": {"path": str(folder)}, "gpu": "H100 SXM", "engine": "vllm"})
    )
    result = run_cli("validate", str(recipe))
    assert result.exit_code == 1, result.output
    assert "model.layers.1.mlp.down_proj.weight_scale" in result.stderr
    assert "zero or negative" in result.stderr
