"""Model shapes for the memory estimate: from a local config.json, the offline HF cache, or `models.yaml`.

No network, ever: an HF id that is neither in the table nor in the local cache gives `None`, and the
judge skips the memory check with a note instead of guessing.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationError

from deployctl import settings
from deployctl.recipe.model import ModelSpec
from deployctl.strict import StrictModel


class ModelShape(StrictModel):
    """The few config.json numbers that decide weight and KV-cache bytes."""

    layers: int = Field(..., ge=1)
    hidden: int = Field(..., ge=1)
    heads: int = Field(..., ge=1)
    kv_heads: int = Field(..., ge=1)
    head_dim: int = Field(..., ge=1)
    intermediate: int = Field(..., ge=1, description="MLP width (per expert for MoE)")
    vocab: int = Field(..., ge=1)
    tied: bool = False
    max_position: int = Field(4096, ge=1)
    experts: int = Field(1, ge=1, description="routed experts per layer (1 = dense)")
    model_type: str | None = None  # config.json model_type (capability rows limited to some models)
    source: str

    @property
    def linear_params(self) -> int:
        """Parameters of the quantizable linears (attention q/k/v/o and the gated MLP)."""
        attention = self.hidden * self.head_dim * (2 * self.heads + 2 * self.kv_heads)
        mlp = 3 * self.hidden * self.intermediate * self.experts
        return self.layers * (attention + mlp)

    @property
    def embedding_params(self) -> int:
        """Embeddings plus an untied lm_head; Model Optimizer keeps both in 16 bits."""
        return self.vocab * self.hidden * (1 if self.tied else 2)

    @property
    def params(self) -> int:
        return self.linear_params + self.embedding_params


@cache
def known_shapes() -> dict[str, ModelShape]:
    """`data/models.yaml`, keyed by lower-cased HF id."""
    text = resources.files("deployctl.data").joinpath("models.yaml").read_text()
    return {key.lower(): ModelShape.model_validate(row) for key, row in yaml.safe_load(text).items()}


def resolve_shape(model: ModelSpec) -> ModelShape | None:
    """The shape of the recipe's model, or None when nothing local knows it."""
    if model.path is not None:
        return shape_from_config_file(Path(model.path).expanduser() / "config.json")
    if model.id is None:
        return None  # a generated tiny model: a few MB, nothing to check
    cached = _cached_config(model.id, model.revision)
    if cached is not None:
        found = shape_from_config_file(cached)
        if found is not None:
            return found
    return known_shapes().get(model.id.lower())


def _cached_config(repo_id: str, revision: str) -> Path | None:
    """config.json in the HF hub cache layout, without network: the revision's ref, else any snapshot."""
    root = settings.hf_cache_dir() / f"models--{repo_id.replace('/', '--')}"
    ref = root / "refs" / revision
    if ref.is_file():
        candidate = root / "snapshots" / ref.read_text().strip() / "config.json"
        if candidate.is_file():
            return candidate
    snapshot = root / "snapshots" / revision / "config.json"
    if snapshot.is_file():
        return snapshot
    found = sorted((root / "snapshots").glob("*/config.json")) if root.is_dir() else []
    return found[0] if found else None


def shape_from_config_file(path: Path) -> ModelShape | None:
    try:
        config = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return shape_from_config(config, source=str(path))


def shape_from_config(config: dict[str, Any], *, source: str) -> ModelShape | None:
    """Map HF config.json keys (Llama/Qwen style; VLMs through `text_config`) to a shape."""
    text = config.get("text_config") or config
    try:
        heads = int(text["num_attention_heads"])
        hidden = int(text["hidden_size"])
        experts = int(text.get("num_experts") or text.get("num_local_experts") or 1)
        intermediate = text.get("moe_intermediate_size") if experts > 1 else None
        return ModelShape(
            layers=int(text["num_hidden_layers"]),
            hidden=hidden,
            heads=heads,
            kv_heads=int(text.get("num_key_value_heads") or heads),
            head_dim=int(text.get("head_dim") or hidden // heads),
            intermediate=int(intermediate or text["intermediate_size"]),
            vocab=int(text["vocab_size"]),
            tied=bool(config.get("tie_word_embeddings", text.get("tie_word_embeddings", False))),
            max_position=int(text.get("max_position_embeddings") or 4096),
            experts=experts,
            model_type=config.get("model_type"),
            source=source,
        )
    except (KeyError, TypeError, ValueError, ValidationError):
        return None
