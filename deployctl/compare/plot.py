"""The comparison PNG: throughput vs latency across the concurrency sweep, quality loss vs size.

matplotlib is imported inside `plot_compare` (the CLI never pays for it unless a plot is drawn).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from deployctl.compare.figures import FormatFigures


def plot_compare(rows: Sequence[FormatFigures], path: Path, *, title: str = "") -> Path:
    """PNG: left, output tok/s vs median TPOT per format (one point per concurrency);
    right, perplexity increase vs checkpoint size. Panels without data say so."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5), dpi=110)
    _plot_sweeps(left, rows)
    _plot_quality(right, rows)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fig.savefig(tmp, format="png")
    plt.close(fig)
    tmp.replace(path)
    return path


def _plot_sweeps(ax: Any, rows: Sequence[FormatFigures]) -> None:
    ax.set_title("Throughput vs latency (concurrency sweep)")
    ax.set_xlabel("median TPOT (ms/token)")
    ax.set_ylabel("output tokens/s")
    drawn = False
    for row in rows:
        points = [p for p in row.sweep if p.median_tpot_ms is not None]
        if not points:
            continue
        xs = [p.median_tpot_ms for p in points]
        ys = [p.output_throughput for p in points]
        ax.plot(xs, ys, marker="o", label=row.format)
        for p in points:
            ax.annotate(f"c={p.concurrency}", (p.median_tpot_ms, p.output_throughput), fontsize=7, alpha=0.7)
        drawn = True
    if drawn:
        ax.legend()
        ax.grid(alpha=0.3)
    else:
        ax.text(0.5, 0.5, "no bench figures", ha="center", va="center", transform=ax.transAxes)


def _plot_quality(ax: Any, rows: Sequence[FormatFigures]) -> None:
    ax.set_title("Quality vs size")
    ax.set_xlabel("checkpoint size (GB)")
    ax.set_ylabel("perplexity increase (%)")
    drawn = False
    for row in rows:
        if row.size_bytes is None or row.perplexity_increase is None:
            continue
        x, y = row.size_bytes / 1e9, row.perplexity_increase * 100
        ax.scatter([x], [y], s=50)
        ax.annotate(row.format, (x, y), textcoords="offset points", xytext=(5, 5))
        drawn = True
    if drawn:
        ax.grid(alpha=0.3)
    else:
        ax.text(0.5, 0.5, "no quality figures", ha="center", va="center", transform=ax.transAxes)
