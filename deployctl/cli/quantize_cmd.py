"""`deployctl quantize RECIPE` and `deployctl cache ls|rm|gc`: the checkpoint cache from the command line."""

import time
from pathlib import Path
from typing import Any

import typer

from deployctl.cli.output import out

cache_app = typer.Typer(help="Inspect and clean the quantized-checkpoint cache.", no_args_is_help=True)


RecipeArg = typer.Argument(..., help="Recipe YAML file.", show_default=False)
ProgressOption = typer.Option(True, "--progress/--no-progress", help="Show the calibration progress bar.")
KeyArg = typer.Argument(..., help="Cache key or a unique prefix of it.")


def quantize(recipe_file: Path = RecipeArg, progress: bool = ProgressOption) -> None:
    """Quantize the recipe's model with Model Optimizer (cached by content) and print its quality."""
    from deployctl.quantize.pipeline import describe_format, prepare
    from deployctl.read_recipe import read_recipe

    recipe = read_recipe(recipe_file)
    _judge(recipe, recipe_file)
    out.step(f"{recipe.model.display}: {describe_format(recipe.quantization)}")
    started = time.perf_counter()
    prepared = prepare(recipe, progress=progress and not out.json_mode, on_step=out.step)
    elapsed = time.perf_counter() - started
    checkpoint = prepared.checkpoint
    if prepared.manifest is None:
        out.ok("quantization: none — the base model is served as is")
    elif prepared.cache_hit:
        out.ok(f"cache hit ({elapsed * 1000:.0f} ms): {checkpoint.key}")
    else:
        out.ok(f"quantized in {elapsed:.1f} s: {checkpoint.key}")
    manifest = prepared.manifest.model_dump(mode="json") if prepared.manifest else None
    warnings = _checked(recipe, checkpoint, recipe_file)
    data = {
        "checkpoint": checkpoint.model_dump(mode="json"),
        "cache_hit": prepared.cache_hit,
        "manifest": manifest,
        "checkpoint_warnings": warnings,  # errors refuse the export (CapabilityRejected)
    }
    out.result(data, human=_quantize_table(checkpoint, manifest))


def _judge(recipe: Any, recipe_file: Path) -> None:
    """Refuse a recipe the capability table rejects (for the engine version that will run) before
    spending minutes on calibration."""
    from deployctl.capability import raise_if_rejected
    from deployctl.preflight import judge_preflight, judged_for

    verdict = judge_preflight(recipe, recipe_path=recipe_file)
    out.info(judged_for(verdict))
    raise_if_rejected(verdict, recipe, file=recipe_file)


def _checked(recipe: Any, checkpoint: Any, recipe_file: Path) -> list[str]:
    """The checkpoint check on the export (refuses a broken one); its warnings, printed."""
    from deployctl.preflight import check_before_launch

    warnings = check_before_launch(recipe, checkpoint, recipe_path=recipe_file)
    for warning in warnings:
        out.warning(warning)
    return warnings


def _quantize_table(checkpoint: Any, manifest: dict[str, Any] | None) -> Any:
    from rich.table import Table

    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    table.add_row("checkpoint", str(checkpoint.path))
    if manifest is None:
        return table
    table.add_row(
        "format", f"{manifest['quant_algo'] or '-'} (KV: {manifest['kv_cache_quant_algo'] or 'none'})"
    )
    table.add_row("size", f"{_mb(manifest['size_bytes'])} (base {_mb(manifest['base_size_bytes'])})")
    quality = manifest["quality"]
    if quality["status"] != "ok":
        table.add_row("quality", quality["status"])
        return table
    for label, value in kl_statistics(quality):
        table.add_row(label, value)
    table.add_row("held-out tokens", str(quality["eval_tokens"]))
    return table


def kl_statistics(quality: dict[str, Any]) -> list[tuple[str, str]]:
    """The quality figures under llama.cpp's names (`perplexity --kl-divergence`), each ± its standard
    error where the manifest has one (llama.cpp tools/perplexity/perplexity.cpp)."""

    def pm(value: float, error: float | None, fmt: str, scale: float = 1.0) -> str:
        text = format(value * scale, fmt)
        return text if error is None else f"{text} ± {format(error * scale, fmt)}"

    return [
        ("PPL(Q)", pm(quality["perplexity_quant"], quality.get("perplexity_quant_stderr"), ".4f")),
        ("PPL(base)", pm(quality["perplexity_base"], quality.get("perplexity_base_stderr"), ".4f")),
        ("PPL(Q)/PPL(base)", f"{quality['perplexity_increase'] + 1:.4f}"),
        ("Mean KLD", pm(quality["mean_kl"], quality.get("mean_kl_stderr"), ".6f")),
        (
            "Same top p",
            pm(quality["top1_agreement"], quality.get("top1_agreement_stderr"), ".3f", 100) + " %",
        ),
    ]


@cache_app.command("ls")
def cache_ls() -> None:
    """List cached checkpoints: key, model, format, size, age."""
    from rich.table import Table

    from deployctl.quantize.cache import list_entries

    entries = list_entries()
    rows = [_entry_row(e) for e in entries]
    table = Table("key", "model", "format", "kv", "size", "age", "state")
    for row in rows:
        table.add_row(row["key"], row["model"], row["format"], row["kv_cache"], _mb(row["size_bytes"]),
                      _age(row["age_s"]), row["state"])  # fmt: skip
    out.result(rows, human=table if rows else "the checkpoint cache is empty")


def _entry_row(entry: Any) -> dict[str, Any]:
    manifest = entry.manifest
    return {
        "key": entry.key,
        "model": manifest.model if manifest else "-",
        "format": manifest.format if manifest else "-",
        "kv_cache": manifest.kv_cache if manifest else "-",
        "size_bytes": entry.size_bytes,
        "age_s": round(entry.age_s, 1),
        "state": "ok" if manifest else "incomplete (gc removes it)",
        "path": str(entry.path),
    }


@cache_app.command("rm")
def cache_rm(key: str = KeyArg) -> None:
    """Delete one cached checkpoint."""
    from deployctl.quantize.cache import remove_entry

    entry = remove_entry(key)
    out.ok(f"removed {entry.key} ({_mb(entry.size_bytes)})")
    out.result({"removed": entry.key, "path": str(entry.path)}, human=None)


@cache_app.command("gc")
def cache_gc() -> None:
    """Remove unfinished or invalid folders left by interrupted runs."""
    from deployctl.quantize.cache import garbage_collect

    removed = garbage_collect()
    freed = sum(e.size_bytes for e in removed)
    out.ok(f"removed {len(removed)} incomplete folder(s), {_mb(freed)} freed")
    out.result({"removed": [e.key for e in removed], "freed_bytes": freed}, human=None)


def _mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB" if size < 1e9 else f"{size / 1e9:.2f} GB"


def _age(seconds: float) -> str:
    for unit, length in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= length:
            return f"{seconds / length:.0f}{unit}"
    return f"{seconds:.0f}s"


def register(app: typer.Typer) -> None:
    app.command()(quantize)
    app.add_typer(cache_app, name="cache")
