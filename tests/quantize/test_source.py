"""Resolving the recipe's model: local folders, the Hugging Face cache offline, generated tiny models."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from deployctl.errors import ModelSourceError
from deployctl.quantize.source import folder_content_key, resolve_model
from deployctl.recipe.model import ModelSpec

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def model_folder(root: Path, *, weights: bytes = b"\x08\0\0\0\0\0\0\0{}      ") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "config.json").write_text(json.dumps({"architectures": ["LlamaForCausalLM"]}))
    (root / "model.safetensors").write_bytes(weights)
    return root


def hub_cache(cache: Path, repo: str = "org/name") -> Path:
    """The layout huggingface_hub writes: blobs, snapshots/<commit> (links to blobs), refs/main."""
    root = cache / f"models--{repo.replace('/', '--')}"
    blobs, snapshot = root / "blobs", root / "snapshots" / COMMIT
    blobs.mkdir(parents=True)
    snapshot.mkdir(parents=True)
    (root / "refs").mkdir()
    (root / "refs" / "main").write_text(COMMIT)
    for name, data in (
        ("config.json", b'{"architectures": ["Qwen3ForCausalLM"]}'),
        ("model.safetensors", b"x"),
    ):
        (blobs / f"blob-{name}").write_bytes(data)
        os.symlink(f"../../blobs/blob-{name}", snapshot / name)
    return snapshot


def test_a_local_folder_is_used_as_is(tmp_path):
    folder = model_folder(tmp_path / "m")
    resolved = resolve_model(ModelSpec(path=folder))
    assert resolved.path == folder.resolve() and resolved.revision is None


@pytest.mark.parametrize(
    "change",
    ["weights rewritten", "config edited", "file added"],
)
def test_the_content_key_changes_when_the_model_does(tmp_path, change):
    folder = model_folder(tmp_path / "m")
    before = folder_content_key(folder)
    if change == "weights rewritten":
        os.utime(folder / "model.safetensors", ns=(1, 1))
    elif change == "config edited":
        (folder / "config.json").write_text('{"architectures": ["Qwen3ForCausalLM"]}')
    else:
        (folder / "model-00002.safetensors").write_bytes(b"more")
    assert folder_content_key(folder) != before


def test_the_content_key_is_stable_when_nothing_changes(tmp_path):
    folder = model_folder(tmp_path / "m")
    assert folder_content_key(folder) == folder_content_key(folder)


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({}, "does not exist"),
        ({"model.safetensors": "x"}, "config.json is missing"),
        ({"config.json": "{}", "pytorch_model.bin": "x"}, "no *.safetensors"),
        ({"config.json": "{half", "model.safetensors": "x"}, "unreadable"),
    ],
    ids=["a missing folder", "a folder without config.json", "bin weights only", "a broken config.json"],
)
def test_an_unusable_folder_is_a_clear_error(tmp_path, files, message):
    folder = tmp_path / "m"
    if files:
        folder.mkdir()
        for name, text in files.items():
            (folder / name).write_text(text)
    with pytest.raises(ModelSourceError, match=message.replace("*", r"\*")):
        resolve_model(ModelSpec(path=folder))


def config_only_folder(root: Path) -> Path:
    """What weights-free serving needs: config.json and a tokenizer, no weight files."""
    root.mkdir(parents=True)
    (root / "config.json").write_text(json.dumps({"architectures": ["LlamaForCausalLM"]}))
    (root / "tokenizer.json").write_text("{}")
    return root


def test_a_folder_without_weights_is_refused_with_a_pointer_to_dummy_weights(tmp_path):
    with pytest.raises(ModelSourceError, match=r"no \*\.safetensors") as caught:
        resolve_model(ModelSpec(path=config_only_folder(tmp_path / "m")))
    assert "weights: dummy" in caught.value.hint


def test_dummy_weights_need_only_config_and_tokenizer_and_are_keyed_apart(tmp_path):
    folder = config_only_folder(tmp_path / "m")
    resolved = resolve_model(ModelSpec(path=folder, weights="dummy"))
    assert resolved.path == folder.resolve() and resolved.dummy
    assert resolved.content_key.startswith("dummy:local:")
    assert resolved.display.endswith("(dummy weights)")


def test_dummy_weights_of_a_hub_model_come_from_a_cache_without_weight_files(tmp_path, monkeypatch):
    snapshot = hub_cache(tmp_path / "hub")
    (snapshot / "model.safetensors").unlink()
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    resolved = resolve_model(ModelSpec(id="org/name", weights="dummy"))
    assert resolved.path == snapshot and resolved.content_key == f"dummy:hub:org/name@{COMMIT}"
    with pytest.raises(ModelSourceError):
        resolve_model(ModelSpec(id="org/name"))


def test_offline_a_cached_hub_model_resolves_to_its_commit(tmp_path, monkeypatch):
    snapshot = hub_cache(tmp_path / "hub")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    resolved = resolve_model(ModelSpec(id="org/name"))
    assert resolved.path == snapshot
    assert resolved.revision == COMMIT
    assert COMMIT in resolved.content_key


def test_offline_a_model_not_in_the_cache_names_the_variable(tmp_path, monkeypatch):
    hub_cache(tmp_path / "hub")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_TOKEN", "hf_" + "s" * 30)
    with pytest.raises(ModelSourceError) as info:
        resolve_model(ModelSpec(id="org/other"))
    assert "HF_HUB_OFFLINE" in info.value.message
    assert "hf_sss" not in info.value.message + (info.value.hint or "")
