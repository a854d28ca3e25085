"""The trained tiny models have learned the corpus, and the quality report ranks formats by precision on them.

The ranking is the outcome a user reads in `deployctl quantize`: fp8 (8-bit floats, per-tensor scales)
must stay closer to the bf16 model than 4-bit AWQ weights, in KL divergence, perplexity and top-1
agreement. NVFP4 fake-quantization runs only on CUDA: on CPU its report must say so, not invent figures.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.quantize.conftest import env, make_recipe

pytestmark = [pytest.mark.integration, pytest.mark.quantize]


@pytest.mark.parametrize("arch", ["qwen3", "llama"], ids=["Qwen3 architecture", "Llama architecture"])
def test_the_trained_model_predicts_its_corpus_far_better_than_uniform(trained, arch: str) -> None:
    summary = json.loads((trained(arch) / "training.json").read_text())
    uniform = summary["uniform_perplexity"]
    assert summary["report_perplexity_before"] > uniform / 2, "the untrained model must start near uniform"
    assert summary["report_perplexity_after"] < uniform / 50, summary


CALIBRATION = {"samples": 16, "seq_len": 128, "batch_size": 4}


@pytest.fixture(scope="module")
def ranking_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ranking-cache")


@pytest.fixture(scope="module")
def reports(trained: Callable[[str], Path], ranking_cache: Path) -> Callable[..., dict]:
    """reports(arch, fmt) -> the checkpoint manifest's quality figures (quantized once per module)."""
    from deployctl.quantize.pipeline import prepare

    done: dict[tuple[str, str], dict] = {}

    def get(arch: str, fmt: str) -> dict:
        if (arch, fmt) not in done:
            recipe = make_recipe(str(trained(arch)), fmt, calibration=CALIBRATION)
            with env(DEPLOYCTL_CACHE=str(ranking_cache), HF_HUB_OFFLINE="1"):
                prepared = prepare(recipe, progress=False)
            done[(arch, fmt)] = prepared.manifest.quality.model_dump()
        return done[(arch, fmt)]

    return get


@pytest.mark.parametrize("arch", ["qwen3", "llama"], ids=["Qwen3 architecture", "Llama architecture"])
def test_fp8_stays_closer_to_bf16_than_4_bit_awq(reports, arch: str) -> None:
    fp8, awq = reports(arch, "fp8"), reports(arch, "w4a16_awq")
    assert fp8["status"] == awq["status"] == "ok"
    assert fp8["perplexity_base"] < 10, "quality figures on a model that learned nothing mean nothing"
    assert fp8["mean_kl"] + 2 * fp8["mean_kl_stderr"] < awq["mean_kl"], (fp8, awq)
    assert fp8["perplexity_increase"] < awq["perplexity_increase"]
    assert fp8["top1_agreement"] >= awq["top1_agreement"]
    assert awq["mean_kl"] > 1e-3, "4-bit weights must visibly change a trained model"


def test_nvfp4_quality_is_reported_unavailable_on_cpu_not_invented(reports) -> None:
    nvfp4 = reports("qwen3", "nvfp4")
    assert nvfp4["status"].startswith("unavailable: needs CUDA")
    assert nvfp4["mean_kl"] is None and nvfp4["perplexity_quant"] is None


def test_quantize_prints_the_figures_under_llama_cpp_names_with_their_errors(
    trained, reports, ranking_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import yaml

    from tests.cli_helpers import run_cli

    figures = reports("qwen3", "fp8")
    recipe = tmp_path / "fp8.yaml"
    recipe.write_text(yaml.safe_dump({
        "name": "tiny", "model": str(trained("qwen3")), "gpu": "H100 SXM", "engine": "vllm",
        "quantization": {"format": "fp8", "calibration": CALIBRATION},
    }))  # fmt: skip
    monkeypatch.setenv("DEPLOYCTL_CACHE", str(ranking_cache))
    done = run_cli("quantize", str(recipe), "--no-progress")
    assert done.exit_code == 0, done.output
    assert "cache hit" in done.stderr
    lines = {line.split("  ")[0].strip(): line for line in done.stdout.splitlines() if line.strip()}
    assert f"{figures['perplexity_quant']:.4f} ± {figures['perplexity_quant_stderr']:.4f}" in lines["PPL(Q)"]
    assert f"{figures['perplexity_base']:.4f} ± " in lines["PPL(base)"]
    assert f"{figures['mean_kl']:.6f} ± {figures['mean_kl_stderr']:.6f}" in lines["Mean KLD"]
    assert lines["Same top p"].rstrip().endswith("%")
