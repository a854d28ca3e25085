"""Run lm-evaluation-harness against a served endpoint (the adapter; the child is `lm_eval_main`).

lm-eval runs in a child process of the same interpreter: `deployctl --help` never imports it, its
logging and progress stay in a log file, the recipe's deadline (`quality.timeout_s`) can end it, and
the API key reaches it as `OPENAI_API_KEY` in the child's environment only — never in argv, the
request file, the results or the log deployctl keeps (lm-eval reads the key from the environment:
lm_eval/models/openai_completions.py `LocalCompletionsAPI.api_key` @ 0.4.13).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata, util
from pathlib import Path

from deployctl.errors import EvaluationFailed
from deployctl.quality.scores import TaskResults, parse_results
from deployctl.quality.tasks import fingerprint
from deployctl.recipe.model import TaskQualitySpec

REQUEST_TIMEOUT_S = 300
LOG_TAIL_CHARS = 3000


@dataclass(frozen=True)
class EvalTarget:
    """Where and what to evaluate: an engine's base URL and the model name it serves."""

    base_url: str  # http://host:port
    model: str
    tokenizer: str | None = None  # a local model folder (or hub id); None: the server's /tokenize
    api_key_env: str | None = None  # NAME of the variable holding the key
    checkpoint: str | None = None  # the served checkpoint's key, recorded with the scores


def lm_eval_version() -> str:
    """lm-eval's installed version; a clear error (with the extra to install) when it is missing."""
    if util.find_spec("lm_eval") is None:
        raise EvaluationFailed(
            "task evaluation needs lm-evaluation-harness, which is not installed",
            hint="pip install 'deployctl[eval]' (lm_eval[api]); or remove quality.max_task_drop",
            field="quality",
        )
    return metadata.version("lm_eval")


def evaluate_endpoint(
    target: EvalTarget, spec: TaskQualitySpec, *, report: Callable[[str], None] = lambda _: None
) -> TaskResults:
    """Evaluate `spec.tasks` on the endpoint; raise EvaluationFailed with lm-eval's last words on failure."""
    version = lm_eval_version()
    env = dict(os.environ)
    env.pop("OPENAI_API_KEY", None)  # only the deployment's own key, never one from the user's shell
    if target.api_key_env:
        key = os.environ.get(target.api_key_env)
        if not key:
            raise EvaluationFailed(
                f"the endpoint needs the API key in ${target.api_key_env}, which is not set",
                hint=f"export {target.api_key_env}=... before running deployctl",
            )
        env["OPENAI_API_KEY"] = key
    report(f"evaluating {', '.join(spec.tasks)} on {target.base_url} with lm-eval {version}")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="deployctl-eval-") as tmp:
        folder = Path(tmp)
        request = _request(target, spec)
        (folder / "request.json").write_text(json.dumps(request), encoding="utf-8")
        raw = _run_child(folder, env, spec.timeout_s)
    return TaskResults(
        endpoint=target.base_url,
        model=target.model,
        tasks=spec.tasks,
        scores=parse_results(raw),
        limit=spec.limit,
        fingerprint=fingerprint(spec, version),
        lm_eval_version=version,
        seconds=round(time.perf_counter() - started, 2),
        checkpoint=target.checkpoint,
    )


def _request(target: EvalTarget, spec: TaskQualitySpec) -> dict:
    return {
        "base_url": target.base_url,
        "model": target.model,
        "tokenizer": target.tokenizer,
        "tasks": list(spec.tasks),
        "include_paths": [str(spec.include_path)] if spec.include_path else [],
        "limit": spec.limit,
        "num_fewshot": spec.num_fewshot,
        "chat": spec.chat,
        "num_concurrent": spec.num_concurrent,
        "request_timeout_s": min(REQUEST_TIMEOUT_S, spec.timeout_s),
    }


def _run_child(folder: Path, env: dict[str, str], timeout_s: float) -> dict:
    command = [sys.executable, "-m", "deployctl.quality.lm_eval_main", "request.json", "results.json"]
    log = folder / "lm-eval.log"
    with log.open("wb") as sink:
        try:
            done = subprocess.run(
                command, cwd=folder, env=env, stdout=sink, stderr=subprocess.STDOUT, timeout=timeout_s
            )
        except subprocess.TimeoutExpired as exc:
            raise EvaluationFailed(
                f"lm-eval did not finish within {timeout_s:g} s",
                hint="raise quality.timeout_s, or lower quality.limit",
                field="quality.timeout_s",
                details=[_tail(log)],
            ) from exc
    if done.returncode != 0 or not (folder / "results.json").is_file():
        raise EvaluationFailed(
            f"lm-eval failed (exit code {done.returncode})",
            hint="the lines above are lm-eval's; check quality.tasks and that the endpoint answers",
            details=[_tail(log)],
        )
    try:
        return json.loads((folder / "results.json").read_text(encoding="utf-8"))
    except ValueError as exc:
        raise EvaluationFailed("lm-eval wrote unreadable results", details=[_tail(log)]) from exc


def _tail(log: Path) -> str:
    text = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
    return text[-LOG_TAIL_CHARS:].strip()


__all__ = ["EvalTarget", "evaluate_endpoint", "lm_eval_version"]
