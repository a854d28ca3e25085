"""Tuned profiles: which one a recipe gets, what the recipe pins, what plan says, and bad rows refused."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from deployctl.capability.profiles import (
    ProfileKey,
    choose_profile,
    load_profiles,
    merge_profile,
    shape_class,
)
from deployctl.capability.shapes import known_shapes
from deployctl.errors import DeployctlError, RecipeError
from deployctl.recipe.load import parse_recipe_dict
from deployctl.recipe.model import KvCacheFormat, QuantFormat

ROW = {
    "id": "h200-vllm-0.24-fp8-dense-8b",
    "match": {
        "gpu": "H200", "engine": "vllm", "engine_version": "0.24.0", "format": "fp8", "kv_cache": "none",
        "shape_class": "dense-8b",
    },
    "options": {"performance_mode": "interactivity", "stream_interval": 8},
    "measured": {
        "date": "2026-12-01", "machine": "H200", "source": "benchmarks/results/x/tune.json", "concurrency": 16,
        "default_tok_s": 300.0, "tuned_tok_s": 342.0, "default_cn_tok_s": 3000.0, "tuned_cn_tok_s": 3060.0,
        "greedy_outputs_match": True,
    },
}  # fmt: skip
KEY = ProfileKey("H200", "vllm", "0.24.0", QuantFormat.FP8, KvCacheFormat.NONE, "dense-8b")


def write(tmp_path: Path, *rows: dict) -> Path:
    path = tmp_path / "profiles.yaml"
    path.write_text(yaml.safe_dump({"profiles": list(rows)}))
    return path


def recipe(**engine: object):
    return parse_recipe_dict(
        {"name": "q", "model": "Qwen/Qwen3-8B", "gpu": "H200", "quantization": "fp8",
         "engine": {"name": "vllm", **engine}}
    )  # fmt: skip


@pytest.mark.parametrize(
    "key, found",
    [
        (KEY, True),
        (ProfileKey("H200", "vllm", "0.24.3", QuantFormat.FP8, KvCacheFormat.NONE, "dense-8b"), True),
        (ProfileKey("H100 SXM", "vllm", "0.24.0", QuantFormat.FP8, KvCacheFormat.NONE, "dense-8b"), False),
        (ProfileKey("H200", "vllm", "0.33.0", QuantFormat.FP8, KvCacheFormat.NONE, "dense-8b"), False),
        (ProfileKey("H200", "vllm", "0.24.0", QuantFormat.NONE, KvCacheFormat.NONE, "dense-8b"), False),
        (ProfileKey("H200", "vllm", "0.24.0", QuantFormat.FP8, KvCacheFormat.FP8, "dense-8b"), False),
        (ProfileKey("H200", "vllm", "0.24.0", QuantFormat.FP8, KvCacheFormat.NONE, "dense-70b"), False),
        (ProfileKey("H200", "trtllm", "0.24.0", QuantFormat.FP8, KvCacheFormat.NONE, "dense-8b"), False),
    ],
    ids=[
        "the same situation matches",
        "a patch release of the same engine matches",
        "another GPU does not",
        "another engine release does not",
        "another weight format does not",
        "another KV format does not",
        "another shape class does not",
        "another engine does not",
    ],
)
def test_auto_picks_the_profile_measured_in_the_same_situation(
    tmp_path: Path, key: ProfileKey, found: bool
) -> None:
    profiles = load_profiles(write(tmp_path, ROW))
    assert (choose_profile(recipe(), key, profiles) is not None) is found


def test_none_turns_profiles_off_and_a_named_profile_must_match(tmp_path: Path) -> None:
    profiles = load_profiles(write(tmp_path, ROW))
    assert choose_profile(recipe(profile="none"), KEY, profiles) is None
    assert choose_profile(recipe(profile=ROW["id"]), KEY, profiles) is not None
    other = ProfileKey("H100 SXM", "vllm", "0.24.0", QuantFormat.FP8, KvCacheFormat.NONE, "dense-8b")
    with pytest.raises(RecipeError, match="measured for H200"):
        choose_profile(recipe(profile=ROW["id"]), other, profiles)
    with pytest.raises(RecipeError, match="no profile named nope"):
        choose_profile(recipe(profile="nope"), KEY, profiles)


def test_auto_skips_a_profile_whose_outputs_differed(tmp_path: Path) -> None:
    row = {**ROW, "measured": {**ROW["measured"], "greedy_outputs_match": False}}
    assert choose_profile(recipe(), KEY, load_profiles(write(tmp_path, row))) is None


def test_options_the_recipe_pins_win_and_are_named(tmp_path: Path) -> None:
    [profile] = load_profiles(write(tmp_path, ROW))
    merged, choice = merge_profile(recipe(stream_interval=1), profile)
    assert (merged.engine.performance_mode, merged.engine.stream_interval) == ("interactivity", 1)
    assert choice.pinned == ("stream_interval",) and choice.applied == {"performance_mode": "interactivity"}
    assert choice.summary() == (
        "profile h200-vllm-0.24-fp8-dense-8b: batch-1 decode 1.14× (300 → 342 tok/s), c16 1.02×, "
        "measured 2026-12-01; sets performance_mode=interactivity; pinned by the recipe: stream_interval"
    )


@pytest.mark.parametrize(
    "change, words",
    [
        ({"options": {"turbo": True}}, "unknown option"),
        ({"options": {"performance_mode": "fast"}}, "performance_mode"),
        ({"match": {**ROW["match"], "format": "fp9"}}, "match.format"),
        ({"measured": {**ROW["measured"], "default_tok_s": 0}}, "default_tok_s"),
    ],
    ids=["an unknown option", "a value the recipe refuses", "an unknown format", "a zero measurement"],
)
def test_a_bad_row_is_a_clear_error(tmp_path: Path, change: dict, words: str) -> None:
    with pytest.raises(DeployctlError, match=words) as caught:
        load_profiles(write(tmp_path, {**ROW, **change}))
    assert "profiles.yaml" in caught.value.message


def test_the_shipped_file_loads_and_qwen3_8b_is_a_dense_8b_shape() -> None:
    load_profiles(Path(__file__).parents[2] / "deployctl" / "data" / "profiles.yaml")
    assert shape_class(known_shapes()["qwen/qwen3-8b"]) == "dense-8b"
    assert shape_class(None) is None


def test_plan_names_the_profile_and_its_gain_and_the_spec_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`deployctl plan` through the real CLI on a CPU recipe whose profile row matches this machine."""
    import json

    from tests.cli_helpers import run_cli

    model = tmp_path / "m"
    model.mkdir()
    cfg = {"model_type": "qwen3", "num_hidden_layers": 36, "hidden_size": 4096, "num_attention_heads": 32,
           "num_key_value_heads": 8, "head_dim": 128, "intermediate_size": 12288, "vocab_size": 151936}  # fmt: skip
    (model / "config.json").write_text(json.dumps(cfg))
    doc = {"name": "p", "model": {"path": str(model), "weights": "dummy"}, "gpu": "cpu",
           "engine": {"name": "vllm"}, "runtime": "process", "serve": {"front": "none"}}  # fmt: skip
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(doc))
    plain = json.loads(run_cli("--json", "plan", str(path)).stdout)
    from deployctl.preflight import engine_version
    from deployctl.recipe.load import load_recipe

    version = engine_version(load_recipe(path)).version  # what the plan judges for on this machine
    row = {**ROW, "match": {**ROW["match"], "gpu": "cpu", "format": "none", "engine_version": version}}
    monkeypatch.setenv("DEPLOYCTL_PROFILES", str(write(tmp_path, row)))
    planned = run_cli("--json", "plan", str(path))
    data = json.loads(planned.stdout)
    assert data["profile"]["id"] == ROW["id"] and data["profile"]["gain"]["batch1"] == 1.14
    assert "--performance-mode" in data["argv"] and data["spec_hash"] != plain["spec_hash"]
    human = run_cli("plan", str(path))
    assert "profile h200-vllm-0.24-fp8-dense-8b: batch-1 decode 1.14× (300 → 342 tok/s)" in human.stdout
