"""`deployctl eval NAME|URL`: the swap gate's task evaluation, by hand (lm-evaluation-harness).

Thin: resolve the target (a deployment's state, or a URL with options), call `quality.harness`, keep
the scores for a deployment's checkpoint (they become the next swap's baseline), render lm-eval's
names: task, metric (filter), value ± stderr, examples.
"""

from pathlib import Path
from typing import Annotated, Any

import typer

from deployctl.cli.output import out
from deployctl.errors import StateError, UsageError


def evaluate(
    target: Annotated[
        str, typer.Argument(help="Deployment NAME, or the endpoint URL (http://127.0.0.1:8000).")
    ],
    tasks: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated lm-eval tasks (default: the recipe's quality.tasks, or deployctl_cloze)."
        ),
    ] = None,
    limit: Annotated[
        int | None, typer.Option(min=1, help="Examples per task (default: the recipe's).")
    ] = None,
    model: Annotated[
        str | None, typer.Option(help="Model name to request (default: the deployment's).")
    ] = None,
    tokenizer: Annotated[
        str | None,
        typer.Option(
            help="Tokenizer folder or hub id (default: the deployment's checkpoint; URL: the server's)."
        ),
    ] = None,
    include_path: Annotated[
        Path | None, typer.Option(help="A folder of your own lm-eval task YAML files.")
    ] = None,
    chat: Annotated[
        bool | None, typer.Option("--chat/--no-chat", help="Generation tasks through /v1/chat/completions.")
    ] = None,
    api_key_env: Annotated[str | None, typer.Option(help="NAME of the variable holding the API key.")] = None,
) -> None:
    """Evaluate an endpoint with lm-evaluation-harness on the recipe's tasks (what the swap gate runs)."""
    from deployctl.quality import baseline
    from deployctl.quality.harness import evaluate_endpoint

    eval_target, spec = _resolve(target, model=model, tokenizer=tokenizer, api_key_env=api_key_env)
    changes: dict[str, Any] = {"limit": limit, "include_path": include_path, "chat": chat}
    if tasks:
        changes["tasks"] = tuple(t.strip() for t in tasks.split(",") if t.strip())
    spec = spec.model_copy(update={k: v for k, v in changes.items() if v is not None})
    results = evaluate_endpoint(eval_target, spec, report=out.step)
    if not target.startswith(("http://", "https://")) and (kept := baseline.save(target, results)):
        out.ok(f"scores kept as the baseline of checkpoint {results.checkpoint} ({kept})")
    out.result(results.model_dump(mode="json"), human=_table(results))


def _resolve(
    target: str, *, model: str | None, tokenizer: str | None, api_key_env: str | None
) -> tuple[Any, Any]:
    """EvalTarget and quality settings: from the deployment's state and recipe, or a bare URL."""
    from deployctl.quality.harness import EvalTarget
    from deployctl.recipe.model import Recipe, TaskQualitySpec

    if target.startswith(("http://", "https://")):
        if not model:
            raise UsageError("--model is required with a URL", hint="the name the server lists in /v1/models")
        where = EvalTarget(base_url=target.rstrip("/").removesuffix("/v1"), model=model, tokenizer=tokenizer,
                           api_key_env=api_key_env)  # fmt: skip
        return where, TaskQualitySpec()
    from deployctl.state import StateStore

    state = StateStore().load(target)
    if state is None:
        raise StateError(f"no deployment named {target}", hint="give a name from `deployctl list`, or a URL")
    where = EvalTarget(
        base_url=state.endpoint,
        model=model or state.spec.engine_args.served_name,
        tokenizer=tokenizer or state.checkpoint_path,
        api_key_env=api_key_env or state.spec.api_key_env,
        checkpoint=state.checkpoint_key,
    )
    return where, Recipe.model_validate(state.recipe).quality


def _table(results: Any) -> Any:
    from rich.table import Table

    table = Table(title=f"{results.model} @ {results.endpoint} (lm-eval {results.lm_eval_version})",
                  caption=f"{results.seconds:.1f} s; limit {results.limit or 'none'} per task")  # fmt: skip
    for column in ("task", "metric", "value", "stderr", "n"):
        table.add_column(column, justify="left" if column in ("task", "metric") else "right")
    for score in results.scores:
        table.add_row(
            score.task, score.name, f"{score.value:.4f}",
            "—" if score.stderr is None else f"± {score.stderr:.4f}", str(score.samples or "—"),
        )  # fmt: skip
    return table


def register(app: typer.Typer) -> None:
    app.command("eval")(evaluate)
