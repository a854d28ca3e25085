"""The checkpoint cache: keys, manifests, and `cache ls|rm|gc` (no Model Optimizer needed)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from deployctl import settings
from deployctl.errors import UsageError
from deployctl.quantize import cache
from deployctl.quantize.manifest import MANIFEST, Manifest, QualityReport, read_manifest

BASE_INPUTS = {
    "model": "hub:Qwen/Qwen3-0.6B@abc",
    "format": "fp8",
    "kv_cache": "none",
    "calibration": {"dataset": "builtin", "samples": 128, "seq_len": 512, "batch_size": 4, "sha256": "x"},
    "modelopt": "0.47.0",
}


def fake_checkpoint(key: str, *, model: str = "m", size: int = 10) -> Path:
    """A cache folder as a finished run leaves it: weights, config and a manifest naming the key."""
    folder = settings.cache_dir() / key
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    (folder / "model.safetensors").write_bytes(b"\0" * size)
    manifest = Manifest(
        key=key, key_inputs=BASE_INPUTS, model=model, model_path="/m", format="fp8", kv_cache="none",
        versions={}, device="cpu", timings_s={}, size_bytes=size, base_size_bytes=2 * size,
        quality=QualityReport(), created_at=time.time(),
    )  # fmt: skip
    (folder / MANIFEST).write_text(manifest.model_dump_json())
    return folder


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("model", "hub:Qwen/Qwen3-0.6B@def"),
        ("format", "nvfp4"),
        ("kv_cache", "fp8"),
        ("calibration", {**BASE_INPUTS["calibration"], "samples": 64}),
        ("calibration", {**BASE_INPUTS["calibration"], "sha256": "y"}),
        ("modelopt", "0.48.0"),
    ],
    ids=[
        "another model commit",
        "another format",
        "another kv format",
        "fewer calibration samples",
        "other calibration text",
        "another model optimizer",
    ],
)
def test_the_key_changes_with_every_input(field, value):
    assert cache.cache_key({**BASE_INPUTS, field: value}) != cache.cache_key(BASE_INPUTS)


def test_the_key_ignores_dict_order():
    assert cache.cache_key(dict(reversed(list(BASE_INPUTS.items())))) == cache.cache_key(BASE_INPUTS)


def test_a_complete_folder_is_found():
    key = cache.cache_key(BASE_INPUTS)
    fake_checkpoint(key)
    found = cache.lookup(key)
    assert found is not None and found.key == key


@pytest.mark.parametrize(
    "damage",
    ["no manifest", "manifest is not json", "manifest names another key", "config.json missing"],
)
def test_a_folder_without_a_valid_manifest_is_never_used(damage):
    key = cache.cache_key(BASE_INPUTS)
    folder = fake_checkpoint(key)
    if damage == "no manifest":
        (folder / MANIFEST).unlink()
    elif damage == "manifest is not json":
        (folder / MANIFEST).write_text("{half")
    elif damage == "manifest names another key":
        data = json.loads((folder / MANIFEST).read_text())
        (folder / MANIFEST).write_text(json.dumps({**data, "key": "0" * 24}))
    else:
        (folder / "config.json").unlink()
    assert cache.lookup(key) is None
    assert read_manifest(folder) is None


def test_gc_removes_leftovers_and_keeps_checkpoints():
    good = fake_checkpoint("a" * 24)
    broken = fake_checkpoint("b" * 24)
    (broken / MANIFEST).unlink()
    work = cache.new_work_dir("c" * 24)
    (work / "model.safetensors").write_bytes(b"partial")
    removed = {entry.path for entry in cache.garbage_collect()}
    assert removed == {broken, work}
    assert good.is_dir() and not broken.exists() and not work.exists()


def test_gc_leaves_the_generated_models_alone():
    generated = settings.cache_dir() / "generated" / "tiny-qwen3-seed0-v1"
    generated.mkdir(parents=True)
    cache.garbage_collect()
    assert generated.is_dir()


def test_rm_accepts_a_unique_prefix_and_refuses_an_ambiguous_one():
    fake_checkpoint("ab" + "1" * 22)
    fake_checkpoint("ab" + "2" * 22)
    with pytest.raises(UsageError, match="matches 2"):
        cache.remove_entry("ab")
    removed = cache.remove_entry("ab1")
    assert not removed.path.exists()
    assert [e.key for e in cache.list_entries()] == ["ab" + "2" * 22]


def test_rm_of_an_unknown_key_says_how_to_list_keys():
    with pytest.raises(UsageError) as info:
        cache.remove_entry("feedface")
    assert "cache ls" in (info.value.hint or "")


def test_stale_work_dirs_of_a_key_are_removed_and_others_kept():
    mine = cache.new_work_dir("d" * 24)
    other = cache.new_work_dir("e" * 24)
    assert cache.remove_stale_work_dirs("d" * 24) == 1
    assert not mine.exists() and other.exists()


def test_ls_reports_model_format_size_and_age():
    fake_checkpoint("f" * 24, model="org/name", size=1234)
    [entry] = cache.list_entries()
    assert (entry.key, entry.manifest.model, entry.size_bytes) == ("f" * 24, "org/name", 1234)
    assert 0 <= entry.age_s < 60
