"""Find a checkpoint without making one: what `deployctl plan` needs, and what `apply` plans with.

`find_checkpoint(recipe)` never quantizes, never downloads and never generates. It answers from
what is on disk: the checkpoint cache (one small JSON read), the local Hugging Face cache (resolved
offline), a local model folder, or an already generated tiny model. None means "apply would have to
make it first" (quantize, download or generate), and `quantize_cost` says what that costs when an
earlier export on this machine lets us guess.
"""

from __future__ import annotations

from pathlib import Path

from deployctl import settings
from deployctl.checkpoint import Checkpoint
from deployctl.errors import ModelSourceError
from deployctl.quantize import cache
from deployctl.quantize.formats import is_quantized
from deployctl.quantize.source import (
    TINY_SEED,
    TINY_VERSION,
    ResolvedModel,
    as_dummy,
    check_model_folder,
    folder_content_key,
    resolve_model,
)
from deployctl.recipe.model import Recipe


def find_checkpoint(recipe: Recipe) -> Checkpoint | None:
    """The checkpoint `prepare_checkpoint` would return, when it already exists here; else None.

    A local `model.path` that does not exist is an error (nothing could ever make it); a Hub model
    missing from the local cache, an ungenerated tiny model or a quantize cache miss is None.
    """
    from deployctl.quantize.pipeline import base_checkpoint, key_inputs, quantized_checkpoint

    resolved = _resolve_offline(recipe)
    if resolved is None:
        return None
    spec = recipe.quantization
    if not is_quantized(spec.format, spec.kv_cache):
        return base_checkpoint(resolved)
    key = cache.cache_key(key_inputs(resolved, spec))
    manifest = cache.lookup(key)
    return quantized_checkpoint(manifest, cache.checkpoint_dir(key)) if manifest else None


def missing_reason(recipe: Recipe) -> str:
    """What apply will do first when `find_checkpoint` returned None, in a few words."""
    if _resolve_offline(recipe) is None:
        source = recipe.model.generate or recipe.model.id
        verb = "generate" if recipe.model.generate else "download"
        if recipe.model.dummy:
            return f"download the config and tokenizer of {source} (dummy weights: no weight files)"
        if is_quantized(recipe.quantization.format, recipe.quantization.kv_cache):
            return f"{verb} {source}, then quantize to {recipe.quantization.format.value}"
        return f"{verb} {source}"
    return f"quantize to {recipe.quantization.format.value}"


def quantize_cost(recipe: Recipe) -> str:
    """A guess from earlier exports: the same format of the same model, else of any model, else unknown."""
    manifests_all = [e.manifest for e in cache.list_entries() if e.manifest is not None]
    fmt = recipe.quantization.format.value
    same_format = [m for m in manifests_all if m.format == fmt]
    source = recipe.model.display
    same_model = [m for m in same_format if source in (m.model, m.model_path) or m.model.startswith(source)]
    for manifests, note in ((same_model, "as before"), (same_format, f"like {fmt} of another model")):
        if manifests:
            seconds = sum(manifests[0].timings_s.values())
            return f"~{seconds:.0f} s {note}"
    return "time unknown: no earlier export to compare with"


def model_folder(recipe: Recipe) -> Path | None:
    """The base model's folder when it is on disk already (no download, no generation)."""
    resolved = _resolve_offline(recipe)
    return resolved.path if resolved else None


def _resolve_offline(recipe: Recipe) -> ResolvedModel | None:
    spec = recipe.model
    if spec.path is not None:
        return resolve_model(spec)  # a local folder: reads a few KB, raises when missing
    if spec.generate is not None:
        folder = settings.cache_dir() / "generated" / f"{spec.generate}-seed{TINY_SEED}-v{TINY_VERSION}"
        if not (folder / "config.json").is_file():
            return None
        return ResolvedModel(
            folder, None, f"generated:{folder_content_key(folder)}", f"generated:{spec.generate}"
        )
    found = _hub_local(spec.id or "", spec.revision, weights=not spec.dummy)
    return as_dummy(found) if found and spec.dummy else found


def _hub_local(repo_id: str, revision: str, *, weights: bool = True) -> ResolvedModel | None:
    """The snapshot in the local Hugging Face cache, resolved with `local_files_only` (no network)."""
    from deployctl.quantize.source import hub_resolved, hub_snapshot

    try:
        folder = hub_snapshot(repo_id, revision, local_files_only=True, weights=weights)
        check_model_folder(folder, field="model.id", weights=weights)
    except (Exception, ModelSourceError):  # huggingface_hub raises many types; all mean "not here"
        return None
    return hub_resolved(repo_id, folder)
