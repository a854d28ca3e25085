"""`deployctl status | list | logs | smoke | destroy`: look at and tear down what deployctl runs.

Thin commands: each parses, calls one function (`deployments`, a runtime, `serve.smoke`) and
renders. Only `status` talks to the engines (a 1 s health probe each); `list` reads state only.
"""

import os
from dataclasses import dataclass
from typing import Any

import typer

from deployctl.cli.output import out
from deployctl.errors import unknown_deployment
from deployctl.recipe.model import SMOKE_PROMPT


def register(app: typer.Typer) -> None:
    app.command("status")(status)
    app.command("list")(list_deployments)
    app.command("logs")(logs)
    app.command("smoke")(smoke)
    app.command("destroy")(destroy)
    app.command("doctor")(doctor)


def status(name: str | None = typer.Argument(None, help="Deployment name (default: all).")) -> None:
    """Show deployments with their live state and health."""
    from deployctl.deployments import deployment_status

    rows, notes = deployment_status(name)
    for note in notes:  # e.g. no container engine: processes are still listed
        from rich.markup import escape

        out.info(f"[dim]{escape(note)}[/]")
    table = _table("deployment", "instance", "runtime", "state", "health", "endpoint", "engine")
    for row in rows:
        state = row.phase if row.exit_code is None else f"{row.phase} ({row.exit_code})"
        if not row.in_state:
            state += " (no state)"
        health = {True: "[green]healthy[/]", False: "[red]unhealthy[/]", None: "-"}[row.healthy]
        engine = (row.engine or "-") + (" (dummy weights)" if row.weights == "dummy" else "")
        table.add_row(row.deployment, row.instance, row.runtime, state, health, row.endpoint, engine)
    out.result([row.as_dict() for row in rows], human=table if rows else "No deployments.")


def list_deployments() -> None:
    """List the deployments deployctl has state for (no live checks)."""
    from deployctl.state import StateStore

    states, broken = StateStore().scan()
    from deployctl.instance import service_url

    table = _table("deployment", "engine", "runtime", "endpoint", "image", "updated")
    for state in states:
        updated = state.updated_at.strftime("%Y-%m-%d %H:%M:%S")
        service = service_url(state.spec)
        table.add_row(
            state.name,
            state.spec.engine,
            state.handle.runtime.value,
            state.endpoint + (f"\n{service}" if service else "") + _upstream_line(state),
            state.spec.image,
            updated,
        )
    data = [
        {"name": s.name, "engine": s.spec.engine, "runtime": s.handle.runtime.value, "endpoint": s.endpoint,
         "service": service_url(s.spec), "image": s.spec.image, "updated_at": s.updated_at.isoformat(),
         "upstream": s.handle.endpoint if s.handle.endpoint != s.endpoint else None}
        for s in states
    ]  # fmt: skip
    for error in broken:  # one damaged file never hides the others
        name = getattr(error.file, "stem", None) or str(error.file)
        table.add_row(name, "-", "-", f"broken state: {error.message}", "-", "-")
        data.append({"name": name, "broken": error.message, "file": str(error.file), "fix": error.hint})
    out.result(data, human=table if states or broken else "No deployments.")


def _upstream_line(state: Any) -> str:
    """Behind a front (docs/front.md) the endpoint is the front's; the engine it routes to follows."""
    return f"\nupstream {state.handle.endpoint}" if state.handle.endpoint != state.endpoint else ""


def logs(
    name: str = typer.Argument(..., help="Deployment name."),
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing until the engine stops."),
    tail: int | None = typer.Option(None, "--tail", "-n", min=0, help="Only the last N lines."),
) -> None:
    """Print the engine's output (secret values masked)."""
    from deployctl.runtimes.environment import redact, secret_values
    from deployctl.runtimes.registry import runtime_for

    state, handle = _state_and_handle(name)
    secrets = secret_values(state.spec) if state else []
    for line in runtime_for(handle).logs(handle, tail=tail, follow=follow):
        typer.echo(redact(line, secrets))


def smoke(
    target: str = typer.Argument(..., help="Deployment name, or a base URL like http://127.0.0.1:8000."),
    model: str | None = typer.Option(
        None, help="Model id to ask (default: the served name, or the first listed)."
    ),
    max_tokens: int | None = typer.Option(None, min=1, help="Tokens per answer (default: the recipe's)."),
    api_key_env: str | None = typer.Option(None, help="NAME of the variable holding the API key."),
) -> None:
    """Smoke-test an endpoint with the OpenAI client: models, chat, completion, streamed chat."""
    from deployctl.serve.smoke import run_smoke

    where = _smoke_target(target)
    key_env = api_key_env or where.api_key_env
    report = run_smoke(
        where.base_url,
        api_key=os.environ.get(key_env) if key_env else None,
        model=model or where.model,
        prompt=where.prompt,
        max_tokens=max_tokens or where.max_tokens,
        timeout_s=where.timeout_s,
        require_text=where.require_text,
    )
    table = _table("check", "latency ms", "prompt tok", "completion tok", "finish", "text")
    for check in report.checks:
        table.add_row(
            check.name, f"{check.latency_ms:.0f}", str(check.prompt_tokens or "-"),
            str(check.completion_tokens or "-"), check.finish_reason or "-", repr(check.text[:40]),
        )  # fmt: skip
    out.ok(f"smoke test passed against {report.base_url} (model {report.model}, {report.total_ms:.0f} ms)")
    out.result(report.model_dump(mode="json"), human=table)


def destroy(
    name: str = typer.Argument(..., help="Deployment name."),
    force: bool = typer.Option(
        False, "--force", help="Forget the deployment even when its runtime cannot be reached."
    ),
) -> None:
    """Stop and remove everything deployctl started for NAME, and forget it. Safe to repeat."""
    from deployctl.deployments import destroy_deployment

    result = destroy_deployment(name, force=force)
    if not result.found_anything:
        out.info(f"Nothing to destroy: no deployment named {name} and nothing labelled with it.")
    for instance in result.removed:
        out.ok(f"removed {instance}")
    if result.state_deleted:
        out.ok(f"forgot deployment {name}")
    out.result({"deployment": name, "removed": list(result.removed), "state_deleted": result.state_deleted})


def doctor(
    fix: bool = typer.Option(False, "--fix", help="Remove stale lock and temp files (never state)."),
) -> None:
    """List damaged state files and stale locks, with why and the way out. Exit 1 while any remains."""
    from deployctl.doctor import diagnose
    from deployctl.doctor import fix as fix_problems

    problems = diagnose()
    removed = fix_problems(problems) if fix else []
    remaining = [p for p in problems if p.path not in removed]
    for path in removed:
        out.ok(f"removed {path}")
    table = _table("problem", "file", "what", "way out")
    for problem in remaining:
        table.add_row(problem.kind, problem.path, problem.message, problem.fix)
    data = {"problems": [p.as_dict() for p in remaining], "removed": removed}
    out.result(data, human=table if remaining else "No problems found.")
    if any(p.kind != "in-flight" for p in remaining):
        raise typer.Exit(1)


def _table(*columns: str) -> Any:
    """Narrow terminals fold long values (names, URLs) onto more lines instead of cutting them."""
    from rich.table import Column, Table

    return Table(*(Column(name, overflow="fold", min_width=len(name)) for name in columns))


def _state_and_handle(name: str):
    """The deployment's state (may be None) and the handle to act on (state first, then labels)."""
    from deployctl.runtimes.registry import find_everywhere
    from deployctl.state import StateStore

    state = StateStore().load(name)
    if state is not None:
        return state, state.handle
    handles, _ = find_everywhere(name)
    if not handles:
        raise unknown_deployment(name)
    return None, handles[0]


@dataclass(frozen=True)
class _SmokeTarget:
    base_url: str
    model: str | None = None
    prompt: str = SMOKE_PROMPT
    max_tokens: int = 16
    timeout_s: float = 120
    api_key_env: str | None = None
    require_text: bool = True  # False for dummy weights: usage counts only


def _smoke_target(target: str) -> _SmokeTarget:
    """Endpoint and smoke options: from the deployment's state and recipe, or defaults for a bare URL."""
    if target.startswith(("http://", "https://")):
        return _SmokeTarget(base_url=target)
    from deployctl.state import StateStore

    state = StateStore().load(target)
    if state is None:
        raise unknown_deployment(target, hint="give a deployment name from `deployctl list`, or a URL")
    from deployctl.recipe.model import dummy_weights_in

    recipe_smoke = state.recipe.get("smoke", {})
    return _SmokeTarget(
        base_url=state.endpoint,
        model=state.spec.engine_args.served_name,
        api_key_env=state.spec.api_key_env,
        require_text=not dummy_weights_in(state.recipe),
        **{k: recipe_smoke[k] for k in ("prompt", "max_tokens", "timeout_s") if k in recipe_smoke},
    )
