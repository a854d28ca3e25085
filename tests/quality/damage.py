"""Damaged and equivalent copies of a model folder, for the swap gate's tests (kept apart from
trained_model.py, whose text is part of the trained models' cache key)."""

from __future__ import annotations

import shutil
from pathlib import Path


def perturbed_copy(source: Path, dest: Path, *, relative_noise: float, seed: int = 1) -> Path:
    """A copy of `source` whose weight matrices carry Gaussian noise of `relative_noise` × their std.

    1.0 damages the model beyond use (signal-to-noise 1); 0.002 stays below bf16's resolution for most
    weights — an equivalent checkpoint that is still a different file (another checkpoint key). Norms and
    vectors are left alone, as a broken export or a bad scale would leave them.
    """
    import torch
    from safetensors.torch import load_file, save_file

    shutil.copytree(source, dest)
    weights = dest / "model.safetensors"
    tensors = load_file(weights)
    generator = torch.Generator().manual_seed(seed)
    for name, tensor in tensors.items():
        if tensor.ndim == 2 and "norm" not in name:
            value = tensor.float()
            noise = torch.randn(value.shape, generator=generator) * value.std() * relative_noise
            tensors[name] = (value + noise).to(tensor.dtype)
    save_file(tensors, weights, metadata={"format": "pt"})
    return dest
