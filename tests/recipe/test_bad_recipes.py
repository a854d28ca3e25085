"""A catalogue of bad recipes: each gets one clear message and exit code, no traceback, no side effect."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli_helpers import run_cli
from tests.recipe_samples import GOOD, HF, SK

# (id, file content, expected exit code, words the message must contain)
CASES = [
    ("an empty file", "", 2, ["empty"]),
    ("a file of comments only", "# nothing here\n", 2, ["empty"]),
    ("a list instead of a mapping", "- model: x\n- engine: vllm\n", 2, ["mapping", "not a list"]),
    ("a plain string document", "hello\n", 2, ["mapping", "not a str"]),
    (
        "a YAML syntax error",
        "name: demo\nmodel: [Qwen/Qwen3-0.6B\nengine: vllm\n",
        2,
        ["YAML syntax error", ":3"],
    ),
    (
        "bad indentation",
        "name: demo\nmodel:\n  id: Qwen/Qwen3-0.6B\n revision: main\nengine: vllm\n",
        2,
        ["YAML syntax error"],
    ),
    ("two YAML documents", GOOD + "---\nname: other\n", 2, ["one YAML document"]),
    (
        "a python object tag",
        "name: !!python/object/apply:os.system ['true']\nmodel: a/b\nengine: vllm\n",
        2,
        ["YAML syntax error"],
    ),
    (
        "the model is missing",
        "name: demo\nengine: vllm\n",
        2,
        ["'model' is required", "model: Qwen/Qwen3-0.6B"],
    ),
    (
        "the engine is missing",
        "name: demo\nmodel: Qwen/Qwen3-0.6B\n",
        2,
        ["'engine' is required", "engine: vllm"],
    ),
    (
        "a typo in a top-level key",
        GOOD + "quantisation: fp8\n",
        2,
        ["unknown key 'quantisation'", "did you mean 'quantization'", ":6"],
    ),
    (
        "a typo in a nested key",
        GOOD.replace("engine: vllm", "engine:\n  name: vllm\n  max_modle_len: 4096"),
        2,
        ["unknown key 'max_modle_len'", "did you mean 'max_model_len'", "engine.max_modle_len"],
    ),
    (
        "an unknown quantization format",
        GOOD.replace("fp8", "fp9"),
        2,
        ["'fp9' is not a valid format", "did you mean 'fp8'", "quantization.format"],
    ),
    (
        "an unknown engine",
        GOOD.replace("engine: vllm", "engine: vlm"),
        2,
        ["'vlm' is not a valid name", "did you mean 'vllm'"],
    ),
    (
        "an unknown runtime",
        GOOD + "runtime: dockr\n",
        2,
        ["'dockr' is not a valid kind", "did you mean 'docker'"],
    ),
    (
        "a calibration device that is not auto, cpu or cuda:N",
        GOOD.replace("quantization: fp8", "quantization:\n  format: fp8\n  device: gpu1"),
        2,
        ["quantization.device", "cuda:N"],
    ),
    (
        "an infinite GPU memory cap for calibration",
        GOOD.replace("quantization: fp8", "quantization:\n  format: fp8\n  max_gpu_memory_gib: .inf"),
        2,
        ["quantization.max_gpu_memory_gib", "finite"],
    ),
    (
        "a zero host memory cap for calibration",
        GOOD.replace("quantization: fp8", "quantization:\n  format: fp8\n  max_cpu_memory_gib: 0"),
        2,
        ["quantization.max_cpu_memory_gib", "greater than 0"],
    ),
    (
        "an unknown KV-cache format",
        GOOD.replace("quantization: fp8", "quantization:\n  format: fp8\n  kv_cache: int3"),
        2,
        ["quantization.kv_cache", "choose one of"],
    ),
    ("a port that is text", GOOD + "serve:\n  port: eighty\n", 2, ["serve.port", "give a number"]),
    ("a port out of range", GOOD + "serve:\n  port: 70000\n", 2, ["serve.port", "65535"]),
    ("zero GPUs", GOOD.replace('gpu: "H100 SXM"', 'gpu:\n  type: "H100 SXM"\n  count: 0'), 2, ["gpu.count"]),
    (
        "a negative calibration size",
        GOOD.replace("quantization: fp8", "quantization:\n  format: fp8\n  calibration:\n    samples: -1"),
        2,
        ["quantization.calibration.samples"],
    ),
    (
        "an HF token pasted as the API key variable",
        GOOD + f"serve:\n  api_key_env: {HF}\n",
        2,
        ["NAME of an environment variable"],
    ),
    (
        "an OpenAI key pasted as the API key variable",
        GOOD + f"serve:\n  api_key_env: {SK}\n",
        2,
        ["NAME of an environment variable"],
    ),
    (
        "a secret in the engine environment",
        GOOD.replace("engine: vllm", f"engine:\n  name: vllm\n  env:\n    HF_TOKEN: {HF}"),
        2,
        ["looks like a secret", "api_key_env"],
    ),
    (
        "a model id without an organisation",
        GOOD.replace("Qwen/Qwen3-0.6B", "'not a model id'"),
        2,
        ["Hugging Face id"],
    ),
    (
        "two model sources at once",
        GOOD.replace("model: Qwen/Qwen3-0.6B", "model:\n  id: Qwen/Qwen3-0.6B\n  path: /models/x"),
        2,
        ["exactly one of model.id"],
    ),
    (
        "an unknown generated model",
        GOOD.replace("model: Qwen/Qwen3-0.6B", "model:\n  generate: tiny-gpt"),
        2,
        ["tiny-qwen3"],
    ),
    ("a deployment name with spaces", GOOD.replace("name: demo", "name: My Model"), 2, ["name"]),
    (
        "extra_args given as one string",
        GOOD.replace("engine: vllm", "engine:\n  name: vllm\n  extra_args: --foo"),
        2,
        ["engine.extra_args"],
    ),
    (
        "a malformed quality limit",
        GOOD.replace(
            "quantization: fp8", "quantization:\n  format: fp8\n  quality:\n    max_perplexity_increase: lots"
        ),
        2,
        ["max_perplexity_increase"],
    ),
    ("an unknown GPU", GOOD.replace('"H100 SXM"', '"H1000 SXM"'), None, ["H1000", "H100"]),
    (
        "nvfp4 on Ada with TensorRT-LLM",
        GOOD.replace('"H100 SXM"', '"RTX 4090"').replace("fp8", "nvfp4").replace("vllm", "trtllm"),
        1,
        ["nvfp4", "fp8"],
    ),
    (
        "an API key with TensorRT-LLM",
        GOOD.replace("vllm", "trtllm") + "serve:\n  api_key_env: MY_KEY\n",
        1,
        ["API key"],
    ),
    (
        "dummy weights for a generated model",
        GOOD.replace("model: Qwen/Qwen3-0.6B", "model:\n  generate: tiny-qwen3\n  weights: dummy"),
        2,
        ["weights: dummy", "model.path or model.id"],
    ),
    (
        "an unknown kind of weights",
        GOOD.replace("model: Qwen/Qwen3-0.6B", "model:\n  id: Qwen/Qwen3-0.6B\n  weights: random"),
        2,
        ["model.weights", "dummy"],
    ),
    (
        "dummy weights quantized",
        GOOD.replace("model: Qwen/Qwen3-0.6B", "model:\n  id: Qwen/Qwen3-0.6B\n  weights: dummy"),
        1,
        ["no weights to quantize", "quantization: none"],
    ),
]


@pytest.mark.parametrize(("content", "exit_code", "words"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_recipe_is_refused_clearly(
    tmp_path: Path, content: str, exit_code: int | None, words: list[str]
) -> None:
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(content)
    home = Path(__import__("os").environ["DEPLOYCTL_HOME"])
    before = sorted(home.rglob("*")) if home.exists() else []

    result = run_cli("validate", str(recipe))

    assert "Traceback" not in result.output
    assert result.exit_code == exit_code if exit_code is not None else result.exit_code in (1, 2)
    assert "Error:" in result.stderr
    assert str(recipe) in result.stderr, "the message names the recipe file"
    for word in words:
        assert word in result.stderr, f"{word!r} missing from:\n{result.stderr}"
    assert HF not in result.output and SK not in result.output
    after = sorted(home.rglob("*")) if home.exists() else []
    assert after == before, "a rejected recipe has no side effects"


def test_directory_instead_of_file(tmp_path: Path) -> None:
    result = run_cli("validate", str(tmp_path))
    assert result.exit_code == 2
    assert "is a directory" in result.stderr
    assert "Traceback" not in result.output


def test_missing_file(tmp_path: Path) -> None:
    result = run_cli("validate", str(tmp_path / "nope.yaml"))
    assert result.exit_code == 2
    assert "not found" in result.stderr


def test_non_utf8_file(tmp_path: Path) -> None:
    recipe = tmp_path / "latin1.yaml"
    recipe.write_bytes("name: d\u00e9mo\n".encode("latin-1"))
    result = run_cli("validate", str(recipe))
    assert result.exit_code == 2
    assert "UTF-8" in result.stderr


def test_relative_model_path_is_anchored_at_the_recipe(tmp_path: Path) -> None:
    from deployctl.recipe.load import load_recipe

    (tmp_path / "sub").mkdir()
    recipe = tmp_path / "sub" / "r.yaml"
    recipe.write_text("model: ./weights\nengine: transformers\ngpu: cpu\n")
    loaded = load_recipe(recipe)
    assert loaded.model.path == (tmp_path / "sub" / "weights").resolve()
    assert loaded.name == "r", "the name defaults to the file's stem"


def test_schema_is_json_schema_with_every_section() -> None:
    import json

    result = run_cli("schema")
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    assert set(schema["properties"]) >= {
        "name",
        "model",
        "gpu",
        "quantization",
        "engine",
        "runtime",
        "serve",
        "smoke",
    }
    assert schema["additionalProperties"] is False
