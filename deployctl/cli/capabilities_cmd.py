"""`deployctl capabilities` (the capability table as verdicts) and `deployctl gpus` (what NVML sees)."""

from typing import Annotated

import typer

from deployctl.cli.output import out

# One GPU per architecture family when none is named: the table's columns read like its rows.
DEFAULT_GPUS = ("T4", "A100 80GB", "L40S", "H100 SXM", "B200", "RTX 5090", "cpu")
_STYLE = {"native": "[green]native[/]", "fallback": "[yellow]fallback[/]", "rejected": "[red]rejected[/]"}
_CELL = {"native": "[green]N[/]", "fallback": "[yellow]F[/]", "rejected": "[red]R[/]"}


def capabilities(
    gpu: Annotated[
        list[str] | None,
        typer.Option("--gpu", metavar="NAME", help="GPU name (repeatable); default: one per family."),
    ] = None,
    engine: Annotated[
        list[str] | None,
        typer.Option("--engine", metavar="ENGINE", help="trtllm, vllm or transformers (repeatable)."),
    ] = None,
    format: Annotated[
        list[str] | None,
        typer.Option("--format", metavar="FORMAT", help="Weights format, e.g. fp8 (repeatable)."),
    ] = None,
    kv: Annotated[
        list[str] | None,
        typer.Option("--kv", metavar="KV", help="KV-cache format: none, fp8, nvfp4 (repeatable)."),
    ] = None,
    engine_version: Annotated[
        list[str] | None,
        typer.Option(
            "--engine-version",
            metavar="ENGINE=VERSION",
            help="Judge ENGINE at VERSION instead of its pinned image, e.g. vllm=0.24.0 (repeatable).",
        ),
    ] = None,
) -> None:
    """Show which format × KV cache × engine combinations run natively, by fallback, or not at all."""
    from deployctl.capability import capability_matrix, lookup_gpu
    from deployctl.recipe.model import EngineName, KvCacheFormat, QuantFormat

    gpus = [lookup_gpu(name) for name in (gpu or DEFAULT_GPUS)]
    verdicts = capability_matrix(
        gpus,
        engines=_choices(EngineName, engine, "--engine"),
        formats=_choices(QuantFormat, format, "--format"),
        kv_formats=_choices(KvCacheFormat, kv, "--kv"),
        versions=_versions(engine_version),
    )
    judged = {v.engine_version.label() for v in verdicts if v.engine_version}
    out.info("judged for " + "; ".join(sorted(judged)))
    data = [_verdict_json(v) for v in verdicts]
    human = _detail_table(verdicts) if len(gpus) == 1 else _matrix_table(verdicts, gpus)
    out.result(data, human=human)


def gpus() -> None:
    """List the GPUs NVML sees, with their compute capability, memory, driver and catalogue match."""
    from deployctl.capability import find_gpu
    from deployctl.gpu_detect import detect_gpus

    detected = detect_gpus()
    rows = []
    for found in detected:
        match = find_gpu(found.name)
        rows.append(
            {
                "index": found.index,
                "name": found.name,
                "compute_capability": f"{found.sm // 10}.{found.sm % 10}",
                "memory_gib": round(found.memory_bytes / (1 << 30), 1),
                "driver": found.driver_version,
                "catalogue": match.name if match else None,
            }
        )
    out.result(rows, human=_gpus_table(rows))


def _choices(enum, values: list[str] | None, option: str) -> list | None:
    """Enum members for the given strings; a wrong value is a usage error listing the valid ones."""
    from deployctl.errors import UsageError

    if not values:
        return None
    valid = {member.value: member for member in enum}
    unknown = [value for value in values if value.strip().lower() not in valid]
    if unknown:
        raise UsageError(
            f"unknown {option} value {', '.join(unknown)}", hint=f"use one of: {', '.join(valid)}"
        )
    return [valid[value.strip().lower()] for value in values]


def _versions(values: list[str] | None) -> dict:
    """`--engine-version vllm=0.24.0` → {EngineName.VLLM: JudgedVersion}; a bad value is a usage error."""
    from deployctl.engine_version import JudgedVersion, is_version
    from deployctl.errors import UsageError
    from deployctl.recipe.model import EngineName

    chosen = {}
    for value in values or []:
        name, _, version = value.partition("=")
        engines = _choices(EngineName, [name], "--engine-version")
        if not engines or not is_version(version):
            raise UsageError(
                f"--engine-version {value} is not ENGINE=VERSION", hint="e.g. --engine-version vllm=0.24.0"
            )
        chosen[engines[0]] = JudgedVersion(
            engine=engines[0].value, version=version, source="--engine-version"
        )
    return chosen


def _verdict_json(verdict) -> dict:
    return {
        "gpu": verdict.gpu.name,
        "weights": verdict.weights.value,
        "kv_cache": verdict.kv_cache.value,
        "engine": verdict.engine.value,
        "engine_version": verdict.engine_version.version if verdict.engine_version else None,
        "level": verdict.level.value,
        "findings": [f.model_dump(mode="json", exclude_none=True) for f in verdict.findings],
    }


def _worst_reasons(verdict) -> str:
    """The reasons behind the verdict's level (for a native verdict, the serving ones only)."""
    worst = [f for f in verdict.findings if f.level is verdict.level]
    if verdict.level.value == "native":
        worst = [f for f in worst if f.subject == "serving"]
    return "; ".join(dict.fromkeys(f.reason for f in worst))


def _detail_table(verdicts):
    from rich.table import Table

    gpu = verdicts[0].gpu if verdicts else None
    table = Table(title=f"Capabilities on {gpu.label}" if gpu else "Capabilities", show_lines=False)
    for column in ("format", "KV", "engine", "verdict"):
        table.add_column(column, no_wrap=True)
    table.add_column("why", overflow="fold")
    for verdict in verdicts:
        table.add_row(
            verdict.weights.value,
            verdict.kv_cache.value,
            verdict.engine.value,
            _STYLE[verdict.level.value],
            _worst_reasons(verdict),
        )
    return table


def _matrix_table(verdicts, gpus):
    from rich.table import Table

    table = Table(
        title="Capabilities",
        caption="N native · F fallback (slower path, warns) · R rejected — add --gpu NAME for the reasons",
    )
    for column in ("format", "KV", "engine"):
        table.add_column(column, no_wrap=True)
    for gpu in gpus:
        table.add_column(gpu.name if gpu.is_cpu else f"{gpu.name}\nsm{gpu.sm}", justify="center")
    cells: dict[tuple, list[str]] = {}
    for verdict in verdicts:
        key = (verdict.weights.value, verdict.kv_cache.value, verdict.engine.value)
        cells.setdefault(key, []).append(_CELL[verdict.level.value])
    for key, levels in cells.items():
        table.add_row(*key, *levels)
    return table


def _gpus_table(rows: list[dict]):
    from rich.table import Table

    table = Table(title="GPUs seen by NVML")
    for column in ("#", "name", "CC", "memory", "driver", "catalogue"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            str(row["index"]),
            row["name"],
            row["compute_capability"],
            f"{row['memory_gib']} GiB",
            row["driver"],
            row["catalogue"] or "[yellow]not in catalogue[/] (judged by its compute capability)",
        )
    return table


def register(app: typer.Typer) -> None:
    app.command()(capabilities)
    app.command()(gpus)
