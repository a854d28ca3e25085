"""The figures `deployctl compare` puts side by side, and the markdown table of them (pure).

For each format: the checkpoint's size and quality (perplexity, top-1 agreement) from the quantize
manifest, and serving figures from a bench run — either recorded earlier (`--bench-json FMT=FILE`, e.g.
from a GPU machine) or measured now by deploying the variant, benchmarking it and destroying it
(`--serve`). Output: a markdown table and a PNG with two panels (throughput vs latency across the
concurrency sweep; quality loss vs size).

With `--eval` (and `--serve`) or `--eval-json FMT=FILE` (a `deployctl --json eval` result), each format
also gets its lm-eval task scores: one column per task and metric, `value ± stderr`, in lm-eval's names.

The figures model and the table/plot are pure functions of the figures, so they are tested with
known numbers; gathering (quantize, apply, bench) happens in `compare.gather` only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from deployctl.errors import UsageError
from deployctl.quality.scores import TaskResults, TaskScore
from deployctl.recipe.model import QuantFormat


class SweepPoint(BaseModel):
    model_config = ConfigDict(frozen=True)

    concurrency: int
    output_throughput: float
    median_tpot_ms: float | None
    median_ttft_ms: float | None


class FormatFigures(BaseModel):
    """Everything known about one format; None where it was not measured."""

    model_config = ConfigDict(frozen=True)

    format: str
    size_bytes: int | None = None
    perplexity: float | None = None
    perplexity_base: float | None = None  # the unquantized model's, measured on the same text
    perplexity_increase: float | None = None  # 0.03 = +3 % over the base model
    top1_agreement: float | None = None
    sweep: tuple[SweepPoint, ...] = ()
    task_scores: tuple[TaskScore, ...] = ()  # lm-eval, on the served variant
    note: str = ""

    @property
    def best_throughput(self) -> SweepPoint | None:
        return max(self.sweep, key=lambda p: p.output_throughput, default=None)


def parse_formats(text: str) -> list[QuantFormat]:
    """`fp8,w4a16_awq` → formats, with the valid names in the error."""
    formats = []
    for name in (part.strip() for part in text.split(",") if part.strip()):
        try:
            formats.append(QuantFormat(name))
        except ValueError:
            valid = ", ".join(f.value for f in QuantFormat)
            raise UsageError(f"unknown format '{name}'", hint=f"choose from: {valid}") from None
    if not formats:
        raise UsageError("--formats is empty", hint="e.g. --formats none,fp8,nvfp4")
    return formats


def parse_bench_files(pairs: Sequence[str], flag: str = "--bench-json") -> dict[str, Path]:
    """`fp8=results/fp8.json` pairs → {format: file}."""
    files = {}
    for pair in pairs:
        name, sep, path = pair.partition("=")
        if not sep or not name or not path:
            raise UsageError(f"{flag} takes FORMAT=FILE, got '{pair}'", hint=f"e.g. {flag} fp8=fp8.json")
        files[QuantFormat(name.strip()).value] = Path(path)
    return files


def read_eval_file(path: Path) -> tuple[TaskScore, ...]:
    """Scores from a `deployctl --json eval` result."""
    try:
        return TaskResults.model_validate_json(path.read_text()).scores
    except (OSError, ValueError) as exc:
        raise UsageError(
            f"cannot read task scores from {path}: {exc}",
            hint="pass a file written by `deployctl --json eval`",
        ) from None


def sweep_from_bench(report: Mapping[str, Any]) -> tuple[SweepPoint, ...]:
    """Points from a `deployctl bench --json` report (vLLM's keys per concurrency level)."""
    points = []
    for level in report.get("levels", []):
        if not level.get("completed"):
            continue
        points.append(
            SweepPoint(
                concurrency=int(level["max_concurrency"]),
                output_throughput=float(level["output_throughput"]),
                median_tpot_ms=level.get("median_tpot_ms"),
                median_ttft_ms=level.get("median_ttft_ms"),
            )
        )
    return tuple(sorted(points, key=lambda p: p.concurrency))


def read_bench_file(path: Path) -> tuple[SweepPoint, ...]:
    try:
        return sweep_from_bench(json.loads(path.read_text()))
    except (OSError, json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise UsageError(
            f"cannot read bench results from {path}: {exc}",
            hint="pass a file written by `deployctl bench -o FILE`",
        ) from None


def figures_from_manifest(fmt: str, manifest: Mapping[str, Any]) -> FormatFigures:
    """Size and quality from a quantize manifest (`deployctl.quantize.manifest.Manifest`, as a dict);
    a quality report that could not be made (e.g. NVFP4 without CUDA) leaves the figures empty."""
    quality = manifest.get("quality") or {}
    status = quality.get("status", "ok")
    usable = status == "ok"
    return FormatFigures(
        format=fmt,
        size_bytes=manifest.get("size_bytes"),
        perplexity=quality.get("perplexity_quant") if usable else None,
        perplexity_base=quality.get("perplexity_base") if usable else None,
        perplexity_increase=quality.get("perplexity_increase") if usable else None,
        top1_agreement=quality.get("top1_agreement") if usable else None,
        note="" if usable else f"quality {status}",
    )


def markdown_table(rows: Sequence[FormatFigures]) -> str:
    """One line per format; serving figures are those of the highest-throughput sweep point."""
    tasks = list(dict.fromkeys(score.key for row in rows for score in row.task_scores))
    task_headers = "".join(
        f"{task} {metric if f == 'none' else f'{metric} ({f})'} | " for task, metric, f in tasks
    )
    header = (
        "| format | size | perplexity | Δ perplexity | top-1 agreement | "
        f"best output tok/s | at concurrency | median TPOT (ms) | median TTFT (ms) | {task_headers}note |\n"
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|" + "---:|" * len(tasks) + "---|"
    )
    lines = [header]
    for row in rows:
        scores = {score.key: score for score in row.task_scores}
        best = row.best_throughput
        cells = [
            row.format,
            _size(row.size_bytes),
            _num(row.perplexity, 3),
            f"{row.perplexity_increase * 100:+.1f} %" if row.perplexity_increase is not None else "—",
            _num(row.top1_agreement, 3),
            _num(best.output_throughput if best else None, 1),
            str(best.concurrency) if best else "—",
            _num(best.median_tpot_ms if best else None, 2),
            _num(best.median_ttft_ms if best else None, 1),
            *(_score(scores.get(key)) for key in tasks),
            row.note,
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _size(size: int | None) -> str:
    """9.40 GB, 1.27 MB: decimal units, as checkpoint sizes are quoted."""
    if size is None:
        return "—"
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= scale:
            return f"{size / scale:.2f} {unit}"
    return f"{size} B"


def _score(score: TaskScore | None) -> str:
    if score is None:
        return "—"
    return f"{score.value:.3f}" if score.stderr is None else f"{score.value:.3f} ± {score.stderr:.3f}"


def _num(value: float | None, digits: int) -> str:
    return "—" if value is None else f"{value:.{digits}f}"
