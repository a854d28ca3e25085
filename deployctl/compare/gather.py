"""Collect the figures for each format: quantize (or reuse the cache), then bench figures recorded
earlier (`--bench-json`) or measured now by deploying the variant, benchmarking it and destroying it.

A format that fails (rejected for this GPU, quantization error) becomes a row with a note, so one bad
format never loses the others' figures.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from deployctl.compare.figures import (
    FormatFigures,
    figures_from_manifest,
    read_bench_file,
    read_eval_file,
    sweep_from_bench,
)
from deployctl.errors import DeployctlError
from deployctl.recipe.model import QualityGate, QuantFormat, Recipe

Reporter = Callable[[str], None]
BenchFactory = Callable[[str, str, str | None], object]  # (base_url, model, api_key_env) → BenchReport


def format_variant(recipe: Recipe, fmt: QuantFormat) -> Recipe:
    """The recipe with another weight format, deployed under its own name (`<name>-<format>`).
    The quality gate is dropped: a comparison reports how much worse a format is, it does not refuse it."""
    quantization = recipe.quantization.model_copy(update={"format": fmt, "quality": QualityGate()})
    name = f"{recipe.name}-{fmt.value.replace('_', '-')}"[:63]
    return recipe.model_copy(update={"name": name, "quantization": quantization})


def checkpoint_figures(variant: Recipe, fmt: QuantFormat) -> FormatFigures:
    """Size and quality of the variant's checkpoint, quantizing it when the cache lacks it."""
    from deployctl.quantize.pipeline import prepare

    prepared = prepare(variant, progress=True)
    if prepared.manifest is not None:
        return figures_from_manifest(fmt.value, prepared.manifest.model_dump(mode="json"))
    # The base model: no manifest; it is the reference every quality figure is relative to.
    return FormatFigures(
        format=fmt.value,
        size_bytes=prepared.checkpoint.size_bytes,
        perplexity_increase=0.0,
        top1_agreement=1.0,
    )


def serve_and_bench(
    variant: Recipe, bench: BenchFactory, report: Reporter, *, evaluate: bool = False
) -> tuple[dict, tuple]:
    """Deploy the variant, bench it (and evaluate it on quality.tasks), destroy it (also on failure)."""
    from deployctl.apply import apply_recipe
    from deployctl.bench.target import v1_url
    from deployctl.deployments import destroy_deployment

    report(f"{variant.name}: deploying")
    result = apply_recipe(variant, report=report)
    try:
        served = result.spec.engine_args.served_name if result.spec else variant.served_name
        outcome = bench(v1_url(result.endpoint or ""), served, variant.serve.api_key_env)
        scores = _evaluate(variant, result, served, report) if evaluate else ()
        return outcome.model_dump(mode="json"), scores  # type: ignore[attr-defined]
    finally:
        destroy_deployment(variant.name)


def _evaluate(variant: Recipe, result: object, served: str, report: Reporter) -> tuple:
    from deployctl.quality.harness import EvalTarget, evaluate_endpoint

    checkpoint = result.checkpoint  # type: ignore[attr-defined]
    target = EvalTarget(
        base_url=result.endpoint or "",  # type: ignore[attr-defined]
        model=served,
        tokenizer=str(checkpoint.path) if checkpoint else None,
        api_key_env=variant.serve.api_key_env,
    )
    return evaluate_endpoint(target, variant.quality, report=report).scores


def gather_figures(
    recipe: Recipe,
    formats: Sequence[QuantFormat],
    *,
    bench_files: Mapping[str, Path],
    serve: bool,
    bench: BenchFactory,
    quantize: bool = True,
    evaluate: bool = False,
    eval_files: Mapping[str, Path] | None = None,
    report: Reporter = lambda _: None,
) -> list[FormatFigures]:
    rows = []
    for fmt in formats:
        variant = format_variant(recipe, fmt)
        figures, notes = FormatFigures(format=fmt.value), []
        if quantize:
            try:
                figures = checkpoint_figures(variant, fmt)
            except DeployctlError as error:
                notes.append(f"checkpoint: {error.message}")
        try:
            if fmt.value in bench_files:
                figures = figures.model_copy(update={"sweep": read_bench_file(bench_files[fmt.value])})
            elif serve:
                served, scores = serve_and_bench(variant, bench, report, evaluate=evaluate)
                figures = figures.model_copy(
                    update={"sweep": sweep_from_bench(served), "task_scores": scores}
                )
            if eval_files and fmt.value in eval_files:
                figures = figures.model_copy(update={"task_scores": read_eval_file(eval_files[fmt.value])})
        except DeployctlError as error:
            notes.append(f"serve: {error.message}")
        rows.append(figures.model_copy(update={"note": "; ".join(notes)}))
    return with_base_perplexity(rows)


def with_base_perplexity(rows: list[FormatFigures]) -> list[FormatFigures]:
    """The base model's perplexity is measured by every quantize run; show it on the `none` row."""
    base = next((row.perplexity_base for row in rows if row.perplexity_base is not None), None)
    return [
        row.model_copy(update={"perplexity": base})
        if row.format == "none" and row.perplexity is None
        else row
        for row in rows
    ]
