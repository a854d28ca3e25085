"""Where the base model comes from: a Hugging Face repo, a local folder, or a generated tiny model.

`resolve_model` returns a folder on disk plus a `content_key` that changes whenever the weights do;
the quantize cache keys on it. It never imports torch (a cache hit must stay fast), and it reads
HF_HUB_OFFLINE / HF_HUB_CACHE when called (huggingface_hub freezes them at import, which would
ignore a test's or a user's later setting).
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
from dataclasses import dataclass
from pathlib import Path

from deployctl import settings
from deployctl.errors import ModelSourceError
from deployctl.recipe.model import ModelSpec

# What an engine needs from a repo; skips duplicate formats (.bin, .pth, original/, gguf).
HUB_PATTERNS = ["*.json", "*.safetensors", "*.model", "*.txt", "*.jinja", "*.tiktoken"]
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "tokenizer.model",
    "vocab.json",
    "merges.txt",
    "vocab.txt",
    "chat_template.jinja",
    "chat_template.json",
)
TINY_SEED = 0
TINY_VERSION = 1  # bump when tiny.py's output changes, so cached generated models are rebuilt


@dataclass(frozen=True)
class ResolvedModel:
    path: Path
    revision: str | None  # hub commit hash; None for local folders
    content_key: str  # changes when the weights change
    display: str
    dummy: bool = False  # the engine initialises the weights; the folder may hold none


def resolve_model(spec: ModelSpec) -> ResolvedModel:
    """Find (or download, or generate) the model folder and identify its content.

    With `weights: dummy` the engine makes the weights: a folder needs no weight files, a Hub download
    fetches none, and the key says dummy (a swap between real and dummy weights is a checkpoint change).
    """
    if spec.path is not None:
        folder = Path(spec.path).expanduser().resolve()
        check_model_folder(folder, field="model.path", weights=not spec.dummy)
        resolved = ResolvedModel(folder, None, f"local:{folder_content_key(folder)}", str(folder))
    elif spec.generate is not None:
        return _resolve_generated(spec.generate)
    else:
        assert spec.id is not None
        resolved = _resolve_hub(spec.id, spec.revision, weights=not spec.dummy)
    return as_dummy(resolved) if spec.dummy else resolved


def as_dummy(resolved: ResolvedModel) -> ResolvedModel:
    """The same folder, keyed and named as engine-initialised weights."""
    return ResolvedModel(
        resolved.path,
        resolved.revision,
        f"dummy:{resolved.content_key}",
        f"{resolved.display} (dummy weights)",
        dummy=True,
    )


def hub_patterns(weights: bool) -> list[str]:
    """What to fetch from a Hub repo: everything an engine reads, or all but the weights."""
    return HUB_PATTERNS if weights else [p for p in HUB_PATTERNS if p != "*.safetensors"]


def check_model_folder(folder: Path, *, field: str = "model", weights: bool = True) -> None:
    """A usable model folder has config.json and (unless the engine makes them) safetensors weights."""
    if not folder.is_dir():
        raise ModelSourceError(f"model folder {folder} does not exist", field=field)
    if not (folder / "config.json").is_file():
        raise ModelSourceError(
            f"{folder} is not a Hugging Face model folder: config.json is missing",
            hint="point model.path at a folder saved with save_pretrained (config.json + *.safetensors)",
            field=field,
        )
    if weights and not any(folder.glob("*.safetensors")):
        raise ModelSourceError(
            f"{folder} has no *.safetensors weights",
            hint="deployctl reads safetensors only; convert .bin weights with save_pretrained(safe_serialization=True), "
            "or set model.weights: dummy to serve random weights the engine makes (for capacity and speed only)",
            field=field,
        )
    try:
        json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelSourceError(f"{folder}/config.json is unreadable: {exc}", field=field) from exc


def folder_content_key(folder: Path) -> str:
    """Cheap fingerprint: every file's name, size and mtime, plus config.json and safetensors headers.

    Reads a few KB per file, never the weights, so it is fast on a 16 GB model, yet it changes when
    a weight file is rewritten (size/mtime) or re-saved with other tensors (header).
    """
    digest = hashlib.sha256()
    for file in sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")):
        stat = file.stat()
        digest.update(f"{file.name}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
        if file.name == "config.json" or file.name.endswith(".index.json"):
            digest.update(file.read_bytes())
        elif file.suffix == ".safetensors":
            digest.update(_safetensors_header(file))
    return digest.hexdigest()[:32]


def _safetensors_header(file: Path) -> bytes:
    with file.open("rb") as handle:
        raw = handle.read(8)
        if len(raw) < 8:
            return b""
        (length,) = struct.unpack("<Q", raw)
        return handle.read(min(length, 64 << 20))


def _resolve_generated(name: str) -> ResolvedModel:
    """tiny-qwen3 / tiny-llama: generated once into the cache, under a lock."""
    from filelock import FileLock

    arch = name.removeprefix("tiny-")
    folder = settings.cache_dir() / "generated" / f"{name}-seed{TINY_SEED}-v{TINY_VERSION}"
    if not (folder / "config.json").is_file():
        folder.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(folder) + ".lock"):
            if not (folder / "config.json").is_file():
                from deployctl.quantize.tiny import generate_tiny_model

                generate_tiny_model(arch, folder, seed=TINY_SEED)  # type: ignore[arg-type]
    return ResolvedModel(folder, None, f"generated:{folder_content_key(folder)}", f"generated:{name}")


def _resolve_hub(repo_id: str, revision: str, *, weights: bool = True) -> ResolvedModel:
    """The snapshot, downloaded unless offline mode says the local cache only."""
    offline = settings.hub_offline()
    try:
        path = hub_snapshot(repo_id, revision, local_files_only=offline, weights=weights)
    except Exception as exc:  # huggingface_hub raises a dozen types; all mean "not available"
        raise _hub_error(repo_id, revision, offline, exc) from exc
    check_model_folder(path, field="model.id", weights=weights)
    return hub_resolved(repo_id, path)


def hub_snapshot(repo_id: str, revision: str, *, local_files_only: bool, weights: bool = True) -> Path:
    """snapshot_download into deployctl's HF cache with the token from HF_TOKEN only (never a stored one);
    without the weight files when the engine makes the weights (`weights=False`)."""
    from huggingface_hub import snapshot_download

    folder = snapshot_download(
        repo_id,
        revision=revision,
        cache_dir=str(settings.hf_cache_dir()),
        token=os.environ.get("HF_TOKEN") or False,
        local_files_only=local_files_only,
        allow_patterns=hub_patterns(weights),
    )
    return Path(folder)


def hub_resolved(repo_id: str, folder: Path) -> ResolvedModel:
    """A hub snapshot folder (named by its commit) as a resolved model."""
    commit = folder.name
    return ResolvedModel(folder, commit, f"hub:{repo_id}@{commit}", f"{repo_id}@{commit[:12]}")


def _hub_error(repo_id: str, revision: str, offline: bool, exc: Exception) -> ModelSourceError:
    kind = type(exc).__name__
    if offline:
        return ModelSourceError(
            f"{repo_id}@{revision} is not in the local Hugging Face cache ({settings.hf_cache_dir()}) "
            "and HF_HUB_OFFLINE is set",
            hint="unset HF_HUB_OFFLINE to download it, or point HF_HUB_CACHE at a cache that holds it",
            field="model.id",
        )
    if kind in ("GatedRepoError", "RepositoryNotFoundError"):
        hint = "check the id; for a gated or private repo, export HF_TOKEN with read access"
    elif kind == "RevisionNotFoundError":
        hint = "check model.revision (a branch, tag or commit of the repo)"
    else:
        hint = "check the network, or set HF_HUB_OFFLINE=1 to use the local cache only"
    return ModelSourceError(
        f"cannot fetch {repo_id}@{revision} from the Hugging Face Hub ({kind})", hint=hint
    )
