"""Where `deployctl bench` sends load: a URL as given, a NAME from deployctl's state; bad input is exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deployctl.bench.target import Target, bandwidth_for, model_bytes_of, resolve_target
from deployctl.errors import StateError
from tests.cli_helpers import run_cli


@pytest.mark.parametrize(
    ("given", "base_url"),
    [
        pytest.param("http://127.0.0.1:8000", "http://127.0.0.1:8000/v1", id="a bare server URL gets /v1"),
        pytest.param("http://127.0.0.1:8000/v1/", "http://127.0.0.1:8000/v1", id="a /v1 URL is kept"),
        pytest.param("https://llm.example/api/", "https://llm.example/api/v1", id="a path prefix is kept"),
    ],
)
def test_urls_are_used_directly(given: str, base_url: str) -> None:
    assert resolve_target(given).base_url == base_url


def test_an_unknown_deployment_name_says_how_to_find_one() -> None:
    with pytest.raises(StateError, match="no deployment named ghost") as caught:
        resolve_target("ghost")
    assert "deployctl list" in caught.value.hint


@pytest.mark.parametrize(
    ("gpu", "bandwidth"),
    [
        pytest.param("H100 SXM", 3350.0, id="a catalogue GPU has its datasheet bandwidth"),
        pytest.param("nvidia-h100-sxm", 3350.0, id="any spelling of the name finds it"),
        pytest.param("Voodoo 3", None, id="an unknown GPU has none"),
        pytest.param(None, None, id="no GPU, no bandwidth"),
    ],
)
def test_bandwidth_comes_from_the_gpu_catalogue(gpu, bandwidth) -> None:
    assert bandwidth_for(gpu) == bandwidth


def test_tensor_parallel_ranks_add_their_bandwidth() -> None:
    """Each of two H200s reads its half of the weights per token: the batch-1 ceiling doubles."""
    assert bandwidth_for("H200", 2) == 2 * bandwidth_for("H200")


def test_dummy_weights_are_sized_from_the_shape_not_the_folder(tmp_path: Path) -> None:
    """A weights-free folder has no weight files; the roofline reads the bf16 size of its shape."""
    config = {"num_hidden_layers": 80, "hidden_size": 8192, "num_attention_heads": 64, "num_key_value_heads": 8,
              "head_dim": 128, "intermediate_size": 28672, "vocab_size": 128256}  # fmt: skip
    (tmp_path / "config.json").write_text(json.dumps(config))
    size = model_bytes_of(Target(base_url="http://x/v1", checkpoint=tmp_path, dummy_weights=True))
    assert size is not None and 140e9 < size < 142e9  # Llama-3.1-70B in bf16: 141 GB
    assert model_bytes_of(Target(base_url="http://x/v1", checkpoint=tmp_path)) is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["--concurrency", "0"], "--concurrency takes positive integers", id="concurrency zero"),
        pytest.param(
            ["--concurrency", "1,x"], "--concurrency takes positive integers", id="concurrency not a number"
        ),
        pytest.param(
            ["--prompt", "poem"], "--prompt must be one of random, fixed", id="an unknown prompt kind"
        ),
        pytest.param(["--api", "grpc"], "--api must be one of completions, chat", id="an unknown API"),
    ],
)
def test_bad_options_are_usage_errors(args: list[str], message: str) -> None:
    result = run_cli("bench", "http://127.0.0.1:9", "--model", "m", *args)
    assert result.exit_code == 2
    assert message in result.stderr
