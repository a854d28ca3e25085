"""Calibration and held-out text: the shipped corpus, a .txt/.jsonl file, or `hf:<dataset>`.

Texts are split once, deterministically: every tenth text is held out for the quality report and
never calibrates, so the report measures generalisation rather than the calibration fit.
Token batches are packed (texts joined, cut into `seq_len` windows) so that short lines still
fill whole sequences.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deployctl import settings
from deployctl.errors import QuantizeError
from deployctl.recipe.model import CalibrationSpec

if TYPE_CHECKING:
    from rich.progress import Progress

HOLD_OUT_EVERY = 10
FIELD = "quantization.calibration.dataset"


@dataclass(frozen=True)
class TextSplit:
    calibration: list[str]
    held_out: list[str]


def load_texts(dataset: str) -> list[str]:
    """Non-empty texts of the dataset, in a stable order."""
    if dataset == "builtin":
        from deployctl.quantize.tiny import calibration_corpus_text

        texts = calibration_corpus_text().splitlines()
    elif dataset.startswith("hf:"):
        texts = _hub_texts(dataset.removeprefix("hf:"))
    else:
        texts = _file_texts(Path(dataset).expanduser())
    texts = [t for t in (t.strip() for t in texts) if t]
    if len(texts) < 2:
        raise QuantizeError(
            f"calibration dataset {dataset!r} has {len(texts)} non-empty texts; need at least 2",
            field=FIELD,
        )
    return texts


def split_texts(texts: list[str]) -> TextSplit:
    held = {i for i in range(len(texts)) if i % HOLD_OUT_EVERY == HOLD_OUT_EVERY - 1} or {len(texts) - 1}
    return TextSplit(
        [t for i, t in enumerate(texts) if i not in held], [t for i, t in enumerate(texts) if i in held]
    )


def dataset_fingerprint(spec: CalibrationSpec) -> dict[str, Any]:
    """What identifies the calibration for the cache key: the spec plus the data's content hash."""
    fingerprint: dict[str, Any] = spec.model_dump(mode="json")
    if spec.dataset == "builtin":
        from deployctl.quantize.tiny import calibration_corpus_text

        fingerprint["sha256"] = hashlib.sha256(calibration_corpus_text().encode()).hexdigest()
    elif not spec.dataset.startswith("hf:"):
        file = Path(spec.dataset).expanduser()
        fingerprint["dataset"] = str(file.resolve())
        if file.is_file():
            fingerprint["sha256"] = hashlib.sha256(file.read_bytes()).hexdigest()
    return fingerprint


def _file_texts(file: Path) -> list[str]:
    if not file.is_file():
        raise QuantizeError(
            f"calibration file {file} does not exist",
            hint="use builtin, a .txt file (one text per line), a .jsonl file with a 'text' field, or hf:<dataset>",
            field=FIELD,
        )
    raw = file.read_text(encoding="utf-8", errors="replace")
    if file.suffix == ".jsonl":
        return [_jsonl_text(line, file, n) for n, line in enumerate(raw.splitlines(), 1) if line.strip()]
    if file.suffix == ".txt":
        return raw.splitlines()
    raise QuantizeError(f"calibration file {file} is neither .txt nor .jsonl", field=FIELD)


def _jsonl_text(line: str, file: Path, number: int) -> str:
    try:
        record = json.loads(line)
        text = record["text"]
    except (ValueError, KeyError, TypeError) as exc:
        raise QuantizeError(
            f"{file}:{number}: every JSONL line needs a string field 'text'", file=file, line=number
        ) from exc
    if not isinstance(text, str):
        raise QuantizeError(f"{file}:{number}: 'text' is not a string", file=file, line=number)
    return text


def _hub_texts(name: str) -> list[str]:
    """First split of a Hub dataset; offline mode reads only the local datasets cache."""
    try:
        import datasets
    except ImportError as exc:
        raise QuantizeError(
            "hf:<dataset> calibration needs the `datasets` package",
            hint="pip install 'deployctl[quantize]'",
            field=FIELD,
        ) from exc
    if settings.hub_offline():
        datasets.config.HF_HUB_OFFLINE = True  # frozen at import; follow the current environment
    try:
        data = datasets.load_dataset(name, split="train")
    except Exception as exc:  # datasets raises many types; all mean "not available"
        offline = (
            " (HF_HUB_OFFLINE is set: only locally cached datasets work)" if settings.hub_offline() else ""
        )
        raise QuantizeError(
            f"cannot load dataset {name!r}{offline}: {type(exc).__name__}",
            hint="use calibration dataset: builtin, or a local .txt/.jsonl file",
            field=FIELD,
        ) from exc
    if "text" not in data.column_names:
        raise QuantizeError(
            f"dataset {name!r} has no 'text' column (columns: {', '.join(data.column_names)})", field=FIELD
        )
    return [t for t in data["text"] if isinstance(t, str)]


def pack_tokens(tokenizer: Any, texts: list[str], *, sequences: int, seq_len: int, repeat: bool) -> Any:
    """A [n, seq_len] LongTensor of consecutive windows over the joined texts.

    With `repeat`, a corpus shorter than sequences × seq_len is cycled so calibration gets the
    requested number of samples; without it (held-out text), fewer sequences come back.
    """
    import torch

    separator = tokenizer.eos_token or "\n"
    ids = tokenizer(separator.join(texts), add_special_tokens=False, verbose=False)["input_ids"]
    if len(ids) < 2:
        raise QuantizeError("the calibration text tokenizes to fewer than 2 tokens", field=FIELD)
    seq_len = min(seq_len, len(ids)) if not repeat else seq_len
    needed = sequences * seq_len
    if repeat and len(ids) < needed:
        ids = (ids * (needed // len(ids) + 1))[:needed]
    count = min(sequences, len(ids) // seq_len)
    return torch.tensor(ids[: count * seq_len], dtype=torch.long).view(count, seq_len)


def forward_loop(batches: Any, *, batch_size: int, device: str, progress: bool) -> Callable[[Any], None]:
    """The `forward_loop(model)` Model Optimizer calls to calibrate (possibly more than once, for AWQ)."""
    import torch

    def run(model: Any) -> None:
        chunks = list(torch.split(batches, batch_size))
        with _progress_bar(len(chunks), enabled=progress) as advance, torch.no_grad():
            for chunk in chunks:
                model(chunk.to(device))
                advance()

    return run


class _progress_bar:
    """A rich progress bar on stderr (Model Optimizer may run the loop several times)."""

    def __init__(self, total: int, *, enabled: bool) -> None:
        self.total, self.enabled = total, enabled
        self.progress: Progress | None = None

    def __enter__(self) -> Callable[[], None]:
        if not self.enabled:
            return lambda: None
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        progress = Progress(
            TextColumn("calibrating"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=Console(stderr=True), transient=True,
        )  # fmt: skip
        self.progress = progress
        progress.start()
        task = progress.add_task("calibrate", total=self.total)
        return lambda: progress.advance(task)

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()


def default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"
