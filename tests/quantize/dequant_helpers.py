"""Test helper: turn an exported linear back into float weights, per Model Optimizer 0.47's packing.

Packing read from modelopt/torch/export/quant_utils.py: INT4 (`pack_int4_in_uint8`) stores rows 2j
and 2j+1 in the low and high nibble of byte [j, i]; NVFP4 packs two E2M1 codes per byte along the
input dimension with one E4M3 scale per 16 inputs times a global `weight_scale_2`. AWQ and
SmoothQuant divide the weight by `pre_quant_scale` (input-side), or fold it into the preceding norm.
"""

from __future__ import annotations

import torch

E2M1 = torch.tensor([0, 0.5, 1, 1.5, 2, 3, 4, 6, -0.0, -0.5, -1, -1.5, -2, -3, -4, -6])


def unpack_int4(packed: torch.Tensor) -> torch.Tensor:
    low = (packed & 0x0F).to(torch.int16)
    high = (packed >> 4).to(torch.int16)
    low, high = (torch.where(v > 7, v - 16, v) for v in (low, high))
    return torch.stack([low, high], dim=1).reshape(-1, packed.shape[1]).float()


def dequantize(tensors: dict[str, torch.Tensor], prefix: str, quant_algo: str) -> torch.Tensor:
    """The float weight the exported tensors stand for, in the base model's (unscaled) space."""
    weight = tensors[f"{prefix}.weight"]
    scale = tensors.get(f"{prefix}.weight_scale")
    if weight.dtype == torch.float8_e4m3fn:
        scale = scale.float()
        result = weight.float() * (scale if scale.dim() == 0 else scale[:, None])
    elif weight.dtype == torch.int8:
        result = weight.float() * scale.float()[:, None]
    elif quant_algo == "NVFP4":
        codes = torch.stack([E2M1[(weight & 0xF).long()], E2M1[(weight >> 4).long()]], dim=-1)
        values = codes.reshape(weight.shape[0], -1)
        result = (
            values * scale.float().repeat_interleave(16, dim=1) * tensors[f"{prefix}.weight_scale_2"].float()
        )
    else:  # INT4 AWQ (W4A16 and W4A8: weight_scale is the whole per-group scale)
        values = unpack_int4(weight)
        result = values * scale.float().repeat_interleave(values.shape[1] // scale.shape[1], dim=1)
    pre_scale = tensors.get(f"{prefix}.pre_quant_scale")
    if pre_scale is not None:
        result = result * pre_scale.float()[None, :]
    return result


def folded_norm_scale(tensors, base, norm: str) -> torch.Tensor:
    """AWQ folds q/k/v's (and gate/up's) pre_quant_scale into the norm before them: recover it."""
    return tensors[norm].float() / base[norm].float()
