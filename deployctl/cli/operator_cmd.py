"""`deployctl compose`, `deployctl bench`, `deployctl compare`: the operator's everyday tools.

Thin commands: parse, call `render.compose` / `bench.run` / `compare.gather`, render the result.
Heavy libraries (openai, matplotlib) load inside those modules when a command runs.
"""

import contextlib
import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from deployctl.atomic import atomic_write_text
from deployctl.cli.judging import judge_named_gpu
from deployctl.cli.output import out
from deployctl.errors import UsageError


def compose(
    recipe_files: Annotated[list[Path], typer.Argument(help="Recipe YAML file(s).", show_default=False)],
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Write the compose file here (one recipe).")
    ] = None,
    out_dir: Annotated[
        Path | None, typer.Option("--out-dir", help="Write DIR/<recipe file name> for each recipe.")
    ] = None,
    portable: Annotated[
        bool,
        typer.Option(
            "--portable", help="Ignore this machine's checkpoint cache (for files committed to a repository)."
        ),
    ] = False,
) -> None:
    """Render a Docker Compose file that runs the recipe's engine exactly as `deployctl apply` would."""
    from deployctl.read_recipe import read_recipe
    from deployctl.render.compose import render_recipe_compose

    if output and len(recipe_files) > 1:
        raise UsageError("-o takes one recipe; use --out-dir for several")
    written = []
    for recipe_file in recipe_files:
        recipe = read_recipe(recipe_file)
        recipe = judge_named_gpu(recipe, recipe_file)
        text = render_recipe_compose(recipe, recipe_path=str(recipe_file), portable=portable)
        target = output or (out_dir / recipe_file.name if out_dir else None)
        if target is None:
            out.result({"recipe": str(recipe_file), "compose": text}, human=None)
            if not out.json_mode:
                print(text, end="")
            continue
        atomic_write_text(target, text)
        written.append(str(target))
        out.ok(f"{recipe_file} → {target}")
    if written:
        out.result({"files": written}, human=None)


def bench(
    target: Annotated[
        str, typer.Argument(help="Deployment NAME, or the endpoint URL (http://127.0.0.1:8000).")
    ],
    model: Annotated[
        str | None, typer.Option(help="Model name to request (default: the deployment's, or /v1/models).")
    ] = None,
    concurrency: Annotated[str, typer.Option(help="Concurrency levels to sweep, e.g. 1,4,16.")] = "1",
    num_prompts: Annotated[
        int | None, typer.Option(help="Requests per level (default 4 × concurrency, at least 8).")
    ] = None,
    input_len: Annotated[
        int, typer.Option(help="Prompt length in words (~tokens; usage gives exact counts).")
    ] = 128,
    output_len: Annotated[int, typer.Option(help="Tokens to generate per request (max_tokens).")] = 128,
    prompt: Annotated[str, typer.Option(help="Prompt kind: random (seeded words) or fixed.")] = "random",
    api: Annotated[str, typer.Option(help="completions or chat.")] = "completions",
    ignore_eos: Annotated[
        bool, typer.Option(help="Ask the server to ignore EOS (exact output lengths) when it can.")
    ] = True,
    duration: Annotated[
        float, typer.Option(help="Per level: seconds after which no new request starts.")
    ] = 120.0,
    timeout: Annotated[float, typer.Option(help="Per request timeout (seconds).")] = 120.0,
    api_key_env: Annotated[str | None, typer.Option(help="NAME of the variable holding the API key.")] = None,
    gpu: Annotated[
        str | None,
        typer.Option(
            help="GPU name for the roofline's bandwidth (catalogue; × a deployment's tensor-parallel GPUs)."
        ),
    ] = None,
    bandwidth_gbps: Annotated[
        float | None, typer.Option(help="Memory bandwidth in GB/s (overrides --gpu).")
    ] = None,
    model_bytes: Annotated[
        int | None, typer.Option(help="Bytes read per decoded token (default: checkpoint size).")
    ] = None,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Also write the JSON report here.")
    ] = None,
) -> None:
    """Load an OpenAI-compatible endpoint; report TTFT, TPOT, ITL, E2EL, throughput (vLLM's names)."""
    from deployctl.bench.run import BenchConfig, run_bench
    from deployctl.bench.target import bandwidth_for, first_model, model_bytes_of, resolve_target

    where = resolve_target(target)
    key_env = api_key_env or where.api_key_env
    if model is None:
        model = where.model or first_model(where.base_url, os.environ.get(key_env or "", "") or "EMPTY")
    config = BenchConfig(
        base_url=where.base_url,
        model=model,
        concurrency=_levels(concurrency),
        num_prompts=num_prompts,
        input_len=input_len,
        output_len=output_len,
        prompt_kind=_choice(prompt, ("random", "fixed"), "--prompt"),
        api=_choice(api, ("completions", "chat"), "--api"),
        ignore_eos=ignore_eos,
        duration_s=duration,
        request_timeout_s=timeout,
        api_key_env=key_env,
    )
    bandwidth = bandwidth_gbps or bandwidth_for(gpu or where.gpu, where.gpu_count)
    size = model_bytes or model_bytes_of(where)
    result = run_bench(config, bandwidth_gb_s=bandwidth, model_bytes=size, report=out.step)
    data = result.model_dump(mode="json")
    if where.dummy_weights:
        data["weights"] = "dummy"  # engine-initialised: speed and memory are real, the text is noise
    if output:
        atomic_write_text(output, json.dumps(data, indent=2) + "\n")
        out.ok(f"report written to {output}")
    out.result(data, human=_bench_table(data))
    if result.roofline is None:
        out.hint("add --gpu NAME (or --bandwidth-gbps) and --model-bytes for the batch-1 decode roofline")


def compare(
    recipe_file: Annotated[
        Path, typer.Argument(help="Recipe YAML file (its format is replaced by each of --formats).")
    ],
    formats: Annotated[
        str, typer.Option("--formats", help="Comma-separated formats, e.g. none,fp8,nvfp4,w4a16_awq.")
    ],
    bench_json: Annotated[
        list[str] | None, typer.Option("--bench-json", help="FORMAT=FILE: bench results recorded earlier.")
    ] = None,
    serve: Annotated[
        bool, typer.Option("--serve", help="Deploy, bench and destroy each format without --bench-json.")
    ] = False,
    quantize: Annotated[
        bool, typer.Option(help="Quantize (or reuse the cache) for size and quality figures.")
    ] = True,
    concurrency: Annotated[str, typer.Option(help="Concurrency levels for --serve.")] = "1,4",
    num_prompts: Annotated[int | None, typer.Option(help="Requests per level for --serve.")] = None,
    output_len: Annotated[int, typer.Option(help="Tokens per request for --serve.")] = 128,
    out_dir: Annotated[Path | None, typer.Option("--out-dir", help="Where compare.md/.png/.json go.")] = None,
    evaluate: Annotated[
        bool, typer.Option("--eval", help="With --serve, also run the recipe's quality.tasks (lm-eval).")
    ] = False,
    eval_json: Annotated[
        list[str] | None, typer.Option("--eval-json", help="FORMAT=FILE: `deployctl --json eval` results.")
    ] = None,
) -> None:
    """Compare quantization formats of one recipe: size, quality, throughput and latency (table + PNG)."""
    from deployctl.bench.run import BenchConfig, run_bench
    from deployctl.compare.figures import markdown_table, parse_bench_files, parse_formats
    from deployctl.compare.gather import gather_figures
    from deployctl.compare.plot import plot_compare
    from deployctl.read_recipe import read_recipe

    recipe = read_recipe(recipe_file)
    levels = _levels(concurrency)

    def bench_one(base_url: str, model: str, key_env: str | None) -> Any:
        config = BenchConfig(
            base_url=base_url,
            model=model,
            concurrency=levels,
            num_prompts=num_prompts,
            output_len=output_len,
            api_key_env=key_env,
        )
        return run_bench(config, report=out.step)

    # Libraries imported while quantizing and serving print on stdout; keep it for the result (--json).
    with contextlib.redirect_stdout(sys.stderr):
        rows = gather_figures(
            recipe,
            parse_formats(formats),
            bench_files=parse_bench_files(bench_json or []),
            serve=serve,
            bench=bench_one,
            quantize=quantize,
            evaluate=evaluate,
            eval_files=parse_bench_files(eval_json or [], flag="--eval-json"),
            report=out.step,
        )
    folder = out_dir or Path("benchmarks") / "out" / f"compare-{recipe.name}"
    table = markdown_table(rows)
    atomic_write_text(folder / "compare.md", f"# {recipe.name}: formats compared\n\n{table}")
    figures = [row.model_dump(mode="json") for row in rows]
    atomic_write_text(folder / "compare.json", json.dumps(figures, indent=2) + "\n")
    plot = plot_compare(rows, folder / "compare.png", title=f"{recipe.name} ({recipe.gpu.type})")
    out.ok(f"wrote {folder / 'compare.md'}, {plot} and compare.json")
    out.result({"formats": figures, "table": str(folder / "compare.md"), "plot": str(plot)}, human=table)


def _levels(text: str) -> tuple[int, ...]:
    try:
        levels = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        levels = ()
    if not levels or min(levels) < 1:
        raise UsageError(
            f"--concurrency takes positive integers separated by commas, got '{text}'", hint="e.g. 1,4,16"
        )
    return levels


def _choice(value: str, allowed: tuple[str, ...], flag: str) -> str:
    if value not in allowed:
        raise UsageError(f"{flag} must be one of {', '.join(allowed)}, got '{value}'")
    return value


def _bench_table(data: dict[str, Any]) -> Any:
    """Throughput per level, then latency per level and metric (fits an 80-column terminal)."""
    from rich.console import Group
    from rich.table import Table

    dummy = " (dummy weights)" if data.get("weights") == "dummy" else ""
    rates = Table(title=f"{data['model']} @ {data['target']}{dummy}")
    for column in ("concurrency", "completed", "failed", "requests/s", "output tok/s", "total tok/s"):
        rates.add_column(column, justify="right")
    latency = Table(caption=_caption(data))
    latency.add_column("concurrency", justify="right")
    latency.add_column("metric")
    for stat in ("mean", "p50", "p90", "p99"):
        latency.add_column(f"{stat} ms", justify="right")
    for level in data["levels"]:
        rates.add_row(
            str(level["max_concurrency"]),
            str(level["completed"]),
            str(level["failed"]),
            f"{level['request_throughput']:.2f}",
            f"{level['output_throughput']:.1f}",
            f"{level['total_token_throughput']:.1f}",
        )
        for metric in ("ttft", "tpot", "itl", "e2el"):
            stats = [level.get(f"{stat}_{metric}_ms") for stat in ("mean", "median", "p90", "p99")]
            cells = ["—" if value is None else f"{value:.1f}" for value in stats]
            latency.add_row(
                str(level["max_concurrency"]), metric.upper(), *cells, end_section=metric == "e2el"
            )
    return Group(rates, latency)


def _caption(data: dict[str, Any]) -> str:
    lines = ["TPOT = (latency − TTFT)/(tokens − 1) per request; ITL = every gap between streamed chunks."]
    if not data["ignore_eos_used"]:
        lines.append("The server refused ignore_eos: outputs may be shorter than --output-len.")
    errors = {msg: n for level in data["levels"] for msg, n in level["errors"].items()}
    lines += [f"error ×{n}: {msg}" for msg, n in errors.items()]
    if roof := data.get("roofline"):
        measured = roof["measured_decode_tokens_per_s"]
        share = f"{roof['roofline_fraction'] * 100:.0f} %" if roof["roofline_fraction"] is not None else "n/a"
        lines.append(
            f"Batch-1 decode roofline {roof['roofline_tokens_per_s']:.0f} tok/s "
            f"({roof['bandwidth_gb_s']:g} GB/s ÷ {roof['model_bytes'] / 1e9:.2f} GB); measured "
            f"{'n/a' if measured is None else f'{measured:.0f} tok/s'} = {share}"
        )
    return "\n".join(lines)


def register(app: typer.Typer) -> None:
    app.command()(compose)
    app.command()(bench)
    app.command()(compare)
