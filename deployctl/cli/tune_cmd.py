"""`deployctl tune`: a bounded, resumable sweep of engine options on this machine's GPU (docs/tune.md).

Thin: parse → `tune.loop.tune` (or `compare_profile`) over the live Starter/Prober → render, write.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from deployctl.atomic import atomic_write_text
from deployctl.cli.output import out
from deployctl.errors import UsageError

if TYPE_CHECKING:  # the CLI starts fast: these load inside the command
    from deployctl.capability.profiles import ProfileKey
    from deployctl.recipe.model import Recipe


def tune(
    recipe_file: Annotated[Path, typer.Argument(help="Recipe YAML file.", show_default=False)],
    budget_starts: Annotated[
        int, typer.Option(help="Most engine starts in this invocation (2 of them confirm the winner).")
    ] = 7,
    budget_minutes: Annotated[
        float,
        typer.Option(help="No new start after this many minutes (nor one the last start would overrun)."),
    ] = 9.0,
    concurrency: Annotated[int, typer.Option(help="The target concurrency benched beside batch 1.")] = 16,
    option: Annotated[
        list[str] | None,
        typer.Option(
            "--option",
            help="A candidate KEY=VALUE (engine key, e.g. max_batch_size=8); replaces the default space.",
        ),
    ] = None,
    allow_numerics_change: Annotated[
        bool, typer.Option(help="Try options that change numerics (fp8 KV cache) and let them win.")
    ] = False,
    compare: Annotated[
        bool, typer.Option(help="Measure the defaults and the matching profile side by side (no search).")
    ] = False,
    write_profile: Annotated[
        Path | None,
        typer.Option(help="Add the winner as a profile row to this file (deployctl/data/profiles.yaml)."),
    ] = None,
    machine: Annotated[str, typer.Option(help="The machine named in a written profile.")] = "",
    input_len: Annotated[int, typer.Option(help="Bench prompt length.")] = 128,
    output_len: Annotated[int, typer.Option(help="Bench tokens per request.")] = 128,
    num_prompts: Annotated[int, typer.Option(help="Bench requests at batch 1.")] = 8,
    greedy_tokens: Annotated[int, typer.Option(help="Tokens per greedy prompt.")] = 32,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Write the result JSON here.")] = None,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="Show a progress bar.")] = True,
) -> None:
    """Sweep engine options (bounded, resumable), check greedy outputs, bench batch 1 and --concurrency."""
    from deployctl.read_recipe import read_recipe
    from deployctl.tune.live import ApplyStarter, EndpointProber
    from deployctl.tune.loop import Budget, TuneRun, compare_profile
    from deployctl.tune.loop import tune as run_tune
    from deployctl.tune.space import space_from_options, vllm_space

    recipe = read_recipe(recipe_file)
    singles = (
        space_from_options([_pair(text) for text in option])
        if option
        else vllm_space(recipe, concurrency, allow_numerics_change=allow_numerics_change)
        if recipe.engine.name.value == "vllm"
        else []
    )
    prober = EndpointProber(
        input_len=input_len,
        output_len=output_len,
        num_prompts_c1=num_prompts,
        api_key_env=recipe.serve.api_key_env,
    )
    run = TuneRun(
        recipe=recipe, singles=singles, starter=ApplyStarter(), prober=prober, concurrency=concurrency,
        budget=Budget(starts=budget_starts, minutes=budget_minutes), allow_numerics_change=allow_numerics_change,
        max_tokens=greedy_tokens, settings_key=f"{input_len}/{output_len}/{num_prompts}", report=out.info,
    )  # fmt: skip
    key = _profile_key(recipe)
    total = 2 if compare else min(budget_starts, len(singles) + 2)
    with _progress(total, enabled=progress and not out.json_mode) as advance:
        run.advance = advance
        result = compare_profile(run, *_matching_profile(recipe, key)) if compare else run_tune(run)
    result.update(format=recipe.quantization.format.value, kv_cache=recipe.quantization.kv_cache.value)
    result["match"] = {"gpu": key.gpu, "engine_version": key.engine_version, "shape_class": key.shape_class}
    if output:
        atomic_write_text(output, json.dumps(result, indent=2) + "\n")
    if write_profile and not compare:
        _write(result, key, write_profile, machine or key.gpu, str(output or ""))
    out.result(result, human=_summary(result))


def _pair(text: str) -> tuple[str, Any]:
    import yaml

    key, sep, value = text.partition("=")
    if not sep or not key:
        raise UsageError(f"--option takes KEY=VALUE, got {text!r}", hint="e.g. --option max_batch_size=8")
    return key.strip(), yaml.safe_load(value)


def _profile_key(recipe: Recipe) -> ProfileKey:
    from deployctl.capability.profiles import ProfileKey
    from deployctl.capability.shapes import resolve_shape
    from deployctl.preflight import judge_preflight

    return ProfileKey.of(recipe, judge_preflight(recipe), resolve_shape(recipe.model))


def _matching_profile(recipe: Recipe, key: ProfileKey) -> tuple[str, dict[str, Any]]:
    from deployctl.capability.profiles import choose_profile, load_profiles

    wanted = (
        recipe
        if recipe.engine.profile != "none"
        else recipe.model_copy(update={"engine": recipe.engine.model_copy(update={"profile": "auto"})})
    )
    profile = choose_profile(wanted, key, load_profiles())
    if profile is None:
        raise UsageError(
            f"no profile matches {key.describe()}",
            hint="run `deployctl tune RECIPE --write-profile FILE` first",
        )
    return profile.id, {k: v for k, v in profile.options.items() if getattr(recipe.engine, k) is None}


def _write(result: dict[str, Any], key: Any, path: Path, machine: str, source: str) -> None:
    from deployctl.tune.profile_row import profile_row, write_profile

    row = profile_row(result, key, machine=machine, source=source)
    if row is None:
        out.info("no candidate beat the defaults: no profile written")
        return
    write_profile(path, row)
    out.ok(f"profile {row.id} → {path}")


def _summary(result: dict[str, Any]) -> str:
    def rate(value: Any) -> str:
        return f"{value:.1f}" if isinstance(value, int | float) else "—"

    lines = [f"{'candidate':<24} {'start s':>8} {'c1 decode':>10} {'cN tok/s':>9}  outputs"]
    for rec in result.get("candidates", []) + result.get("numerics_changing", []):
        match = (
            "error: " + rec["error"] if rec.get("error") else ("match" if rec["outputs_match"] else "DIFFER")
        )
        lines.append(
            f"{rec['name']:<24} {rate(rec.get('start_s')):>8} {rate(rec.get('decode_tok_s')):>10} "
            f"{rate(rec.get('cn', {}).get('output_tok_s')):>9}  {match}"
        )
    ratio = result.get("ratio")
    lines.append(
        f"winner: {result.get('winner') or result.get('profile') or 'the defaults'} {result.get('options') or ''}; "
        f"batch-1 decode {rate(result.get('default_tok_s'))} → {rate(result.get('tuned_tok_s'))} tok/s"
        + (f" ({ratio:.2f}×)" if isinstance(ratio, float) else "")
        + (f"; {result['stopped']}" if result.get("stopped") else "")
    )
    if result.get("search_winner") and not result.get("confirmed"):
        lines.append(
            f"not kept: {result['search_winner']} was faster in the search"
            + (f" ({result['search_ratio']:.3f}×)" if isinstance(result.get("search_ratio"), float) else "")
            + " but not when measured again beside the defaults (or no budget was left to measure it again)"
        )
    return "\n".join(lines)


class _progress:
    """A rich progress bar on stderr, one step per finished candidate (quantize's calibration bar's form)."""

    def __init__(self, total: int, *, enabled: bool) -> None:
        self.total, self.enabled = total, enabled
        self.bar: Any = None

    def __enter__(self):  # type: ignore[no-untyped-def]
        if not self.enabled:
            return lambda _name: None
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.bar = Progress(
            TextColumn("tune"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TextColumn("{task.description}"),
            console=out.stderr, transient=False,
        )  # fmt: skip
        self.bar.start()
        task = self.bar.add_task("", total=self.total)
        return lambda name: self.bar.update(task, advance=1, description=name)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()


def register(app: typer.Typer) -> None:
    app.command()(tune)
