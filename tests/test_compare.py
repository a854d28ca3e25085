"""`deployctl compare`: figures → markdown table and PNG, from known numbers and from recorded bench files."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from deployctl.bench.metrics import RequestRecord, summarize
from deployctl.compare.figures import (
    FormatFigures,
    SweepPoint,
    markdown_table,
    parse_bench_files,
    parse_formats,
    sweep_from_bench,
)
from deployctl.compare.gather import format_variant, gather_figures
from deployctl.compare.plot import plot_compare
from deployctl.errors import UsageError
from deployctl.recipe.load import parse_recipe_dict
from deployctl.recipe.model import QuantFormat
from tests.cli_helpers import run_cli

REPO = Path(__file__).resolve().parents[1]

# Figures shaped like Qwen3-8B on an H100 (sizes as in deployctl/data/models.yaml); sweeps invented.
ROWS = [
    FormatFigures(
        format="none",
        size_bytes=16_400_000_000,
        perplexity=9.80,
        perplexity_increase=0.0,
        top1_agreement=1.0,
        sweep=(SweepPoint(concurrency=1, output_throughput=147.0, median_tpot_ms=6.8, median_ttft_ms=30.0),),
    ),
    FormatFigures(
        format="fp8",
        size_bytes=9_400_000_000,
        perplexity=9.90,
        perplexity_increase=0.0102,
        top1_agreement=0.97,
        sweep=(
            SweepPoint(concurrency=1, output_throughput=234.0, median_tpot_ms=4.3, median_ttft_ms=25.0),
            SweepPoint(concurrency=16, output_throughput=2900.0, median_tpot_ms=5.5, median_ttft_ms=60.0),
        ),
    ),
    FormatFigures(
        format="nvfp4", size_bytes=6_400_000_000, perplexity_increase=0.061, note="serve: rejected on sm90"
    ),
]


def _bench_report(tmp_path: Path, concurrency: int, tpot_s: float) -> Path:
    """A real bench report file: levels summarized from synthetic timestamps."""
    records = [RequestRecord(0.0, 0.1 + 9 * tpot_s, tuple(0.1 + i * tpot_s for i in range(10)), 5, 10)]
    level = {"max_concurrency": concurrency, **summarize(records, duration_s=1.0)}
    path = tmp_path / f"bench-{concurrency}.json"
    path.write_text(json.dumps({"levels": [level]}))
    return path


def test_the_table_has_one_line_per_format_with_its_best_sweep_point() -> None:
    lines = markdown_table(ROWS).splitlines()
    assert len(lines) == 2 + len(ROWS)
    fp8 = next(line for line in lines if line.startswith("| fp8 "))
    cells = [cell.strip() for cell in fp8.strip("|").split("|")]
    assert cells[:9] == ["fp8", "9.40 GB", "9.900", "+1.0 %", "0.970", "2900.0", "16", "5.50", "60.0"]


def test_missing_figures_show_as_dashes_and_notes_are_kept() -> None:
    nvfp4 = next(line for line in markdown_table(ROWS).splitlines() if line.startswith("| nvfp4 "))
    assert "| — |" in nvfp4 and "+6.1 %" in nvfp4 and "rejected on sm90" in nvfp4


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_the_plot_is_a_png_with_both_panels_drawn(tmp_path: Path) -> None:
    import matplotlib.image

    path = plot_compare(ROWS, tmp_path / "out" / "compare.png", title="qwen3-8b on H100")
    data = path.read_bytes()
    assert _png_size(data) == (1210, 495)  # 11 × 4.5 inches at 110 dpi
    assert len(data) > 20_000
    pixels = matplotlib.image.imread(path)
    colours = {tuple(round(float(c), 2) for c in px) for px in pixels[::7, ::7].reshape(-1, pixels.shape[-1])}
    assert len(colours) > 20, "the image is nearly blank"
    assert not list(tmp_path.glob("out/.*")), "temporary files left beside the plot"


def test_a_plot_without_any_figures_still_renders(tmp_path: Path) -> None:
    path = plot_compare([FormatFigures(format="fp8")], tmp_path / "empty.png")
    assert _png_size(path.read_bytes()) == (1210, 495)


def test_bench_reports_become_sweep_points(tmp_path: Path) -> None:
    report = json.loads(_bench_report(tmp_path, 4, 0.005).read_text())
    (point,) = sweep_from_bench(report)
    assert point.concurrency == 4
    assert point.median_tpot_ms == pytest.approx(5.0)
    assert point.output_throughput == pytest.approx(10.0)


def test_gather_reads_recorded_bench_files_and_notes_unreadable_ones(tmp_path: Path) -> None:
    recipe = parse_recipe_dict({"name": "q", "model": "Qwen/Qwen3-8B", "gpu": "H100 SXM", "engine": "vllm"})
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    rows = gather_figures(
        recipe,
        [QuantFormat.FP8, QuantFormat.NVFP4, QuantFormat.W4A16_AWQ],
        bench_files={"fp8": _bench_report(tmp_path, 1, 0.004), "nvfp4": broken},
        serve=False,
        bench=lambda *args: pytest.fail("nothing should be served"),
        quantize=False,
    )
    assert [row.format for row in rows] == ["fp8", "nvfp4", "w4a16_awq"]
    assert rows[0].sweep[0].median_tpot_ms == pytest.approx(4.0)
    assert rows[1].sweep == () and "cannot read bench results" in rows[1].note
    assert rows[2].sweep == () and rows[2].note == ""


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("fp8,fp9", "unknown format 'fp9'", id="a misspelt format is named"),
        pytest.param(" , ", "--formats is empty", id="an empty list is refused"),
    ],
)
def test_bad_format_lists_are_usage_errors(text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse_formats(text)


def test_bench_files_are_format_equals_file() -> None:
    assert parse_bench_files(["fp8=a.json"]) == {"fp8": Path("a.json")}
    with pytest.raises(UsageError, match="FORMAT=FILE"):
        parse_bench_files(["a.json"])


def test_each_format_is_deployed_under_its_own_name() -> None:
    recipe = parse_recipe_dict({"name": "q", "model": "Qwen/Qwen3-8B", "gpu": "H100 SXM", "engine": "vllm"})
    variant = format_variant(recipe, QuantFormat.W4A16_AWQ)
    assert (variant.name, variant.quantization.format) == ("q-w4a16-awq", QuantFormat.W4A16_AWQ)


def test_the_cli_writes_table_plot_and_figures(tmp_path: Path) -> None:
    result = run_cli(
        "compare", str(REPO / "recipes" / "qwen3-8b-h100-fp8.yaml"), "--formats", "fp8,nvfp4",
        "--bench-json", f"fp8={_bench_report(tmp_path, 1, 0.004)}", "--no-quantize", "--out-dir", str(tmp_path / "c"),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "| fp8 " in result.stdout and "| nvfp4 " in result.stdout
    assert _png_size((tmp_path / "c" / "compare.png").read_bytes()) == (1210, 495)
    figures = json.loads((tmp_path / "c" / "compare.json").read_text())
    assert [f["format"] for f in figures] == ["fp8", "nvfp4"]


@pytest.mark.integration
@pytest.mark.quantize
def test_compare_quantizes_for_real_and_reports_size_and_quality(tmp_path: Path) -> None:
    """Model Optimizer on CPU: FP8 of the tiny model is smaller than the base and keeps its answers."""
    recipe = tmp_path / "tiny.yaml"
    recipe.write_text(
        "name: tiny\nmodel: tiny-qwen3\ngpu: cpu\nengine: transformers\nruntime: process\n"
        "quantization:\n  calibration: {samples: 8, seq_len: 64, batch_size: 4}\n  quality: {eval_samples: 4}\n"
    )
    result = run_cli("--json", "compare", str(recipe), "--formats", "none,fp8", "--out-dir", str(tmp_path))
    assert result.exit_code == 0, result.output
    none, fp8 = json.loads(result.stdout)["formats"]
    assert fp8["size_bytes"] < none["size_bytes"]
    assert fp8["perplexity"] > 0 and none["perplexity"] == fp8["perplexity_base"]
    assert 0.5 < fp8["top1_agreement"] <= 1.0
    assert _png_size((tmp_path / "compare.png").read_bytes()) == (1210, 495)


def test_recorded_task_scores_become_columns_in_lm_evals_names(tmp_path: Path) -> None:
    from deployctl.quality.scores import TaskResults, TaskScore

    def eval_file(fmt: str, acc: float) -> Path:
        scores = (
            TaskScore(task="deployctl_cloze", metric="acc", value=acc, stderr=0.02, samples=100),
            TaskScore(task="gsm8k", metric="exact_match", filter="strict-match", value=acc / 2, stderr=None),
        )
        results = TaskResults(
            endpoint="http://h:8000", model="m", tasks=("deployctl_cloze", "gsm8k"), scores=scores
        )
        path = tmp_path / f"{fmt}.json"
        path.write_text(results.model_dump_json())
        return path

    recipe = parse_recipe_dict({"name": "q", "model": "Qwen/Qwen3-8B", "gpu": "H100 SXM", "engine": "vllm"})
    rows = gather_figures(
        recipe,
        [QuantFormat.FP8, QuantFormat.NVFP4],
        bench_files={},
        serve=False,
        bench=lambda *args: pytest.fail("nothing should be served"),
        quantize=False,
        eval_files={"fp8": eval_file("fp8", 0.8), "nvfp4": eval_file("nvfp4", 0.4)},
    )
    header, _, fp8, nvfp4 = markdown_table(rows).splitlines()
    assert "| deployctl_cloze acc | gsm8k exact_match (strict-match) | note |" in header
    assert fp8.endswith("| 0.800 ± 0.020 | 0.400 |  |")
    assert nvfp4.endswith("| 0.400 ± 0.020 | 0.200 |  |")
