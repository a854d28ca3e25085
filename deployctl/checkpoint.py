"""`Checkpoint`: the model folder an engine will load, as the quantize step hands it over."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict

from deployctl.recipe.model import KvCacheFormat, QuantFormat


class Checkpoint(BaseModel):
    """A complete model folder: a cached quantized export, or the base model itself (`format: none`).

    `key` identifies the content (the quantize cache key, or the base model's resolved revision);
    it goes into state and labels so that a swap can tell two checkpoints apart.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: Path
    key: str
    format: QuantFormat = QuantFormat.NONE
    kv_cache: KvCacheFormat = KvCacheFormat.NONE
    source: str = ""
    revision: str | None = None
    size_bytes: int | None = None

    @property
    def is_quantized(self) -> bool:
        return self.format is not QuantFormat.NONE or self.kv_cache is not KvCacheFormat.NONE
