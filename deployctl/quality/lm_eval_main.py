"""The evaluation child process: `python -m deployctl.quality.lm_eval_main REQUEST.json RESULTS.json`.

Runs lm-evaluation-harness in-process here (`lm_eval.simple_evaluate` with a `TaskManager` whose
include_path holds the shipped tasks and the user's), against an OpenAI-compatible endpoint, and writes
lm-eval's results document. deployctl starts it as a child (quality.harness) so that lm-eval's imports,
logging and progress bars stay out of the CLI, and a deadline can stop it. The API key comes from the
child's environment as `OPENAI_API_KEY`, which lm-eval's `local-completions` reads
(lm_eval/models/openai_completions.py `LocalCompletionsAPI.api_key` @ 0.4.13); the request file never
holds it.

Model choice per task (lm-eval 0.4.13, lm_eval/models/openai_completions.py):
- `local-completions` against /v1/completions for every task: loglikelihood (multiple choice) needs
  `echo` + `logprobs`, which only completions endpoints give;
- with `chat: true`, generation tasks go to `local-chat-completions` against /v1/chat/completions with
  the chat template applied (it raises NotImplementedError for loglikelihood).
"""

from __future__ import annotations

import json
import logging
import sys
import tempfile
from pathlib import Path
from typing import Any


def main(argv: list[str]) -> int:
    request_file, results_file = map(Path, argv)
    request = json.loads(request_file.read_text(encoding="utf-8"))
    logging.getLogger("lm_eval").setLevel(logging.WARNING)
    results = run(request)
    results_file.write_text(json.dumps(results, default=float), encoding="utf-8")
    return 0


def run(request: dict[str, Any]) -> dict[str, Any]:
    """Evaluate the request's tasks; returns lm-eval's results, higher_is_better and n-samples merged."""
    from lm_eval.tasks import TaskManager

    from deployctl.quality.tasks import materialize

    with tempfile.TemporaryDirectory(prefix="deployctl-lm-eval-") as tmp:
        include = [str(materialize(Path(tmp)))] + list(request.get("include_paths", []))
        # lm-eval's own ~15k task configs take ~20 CPU-s to index (measured 2026-11-30, 0.4.13): only when
        # a task asked for is not among the shipped and the user's own.
        manager = TaskManager(include_path=include, include_defaults=False)
        if any(name not in manager.all_tasks for name in request["tasks"]):
            manager = TaskManager(include_path=include)
        unknown = [name for name in request["tasks"] if name not in manager.all_tasks]
        if unknown:
            raise SystemExit(f"unknown lm-eval task(s): {', '.join(unknown)}")
        chat_tasks = [t for t in request["tasks"] if request.get("chat") and _generates(manager, t)]
        plain_tasks = [t for t in request["tasks"] if t not in chat_tasks]
        merged: dict[str, Any] = {"results": {}, "higher_is_better": {}, "n-samples": {}}
        for tasks, chat in ((plain_tasks, False), (chat_tasks, True)):
            if tasks:
                _merge(merged, _evaluate(request, manager, tasks, chat=chat))
    return merged


def _evaluate(request: dict[str, Any], manager: Any, tasks: list[str], *, chat: bool) -> dict[str, Any]:
    import lm_eval
    from lm_eval.api.registry import get_model

    base = request["base_url"].rstrip("/")
    args: dict[str, Any] = {
        "model": request["model"],
        "num_concurrent": request.get("num_concurrent", 1),
        "max_retries": 3,
        "timeout": int(request.get("request_timeout_s", 300)),
        # Strings, not token ids: what ModelOpt's examples/llm_eval/run_lm_eval_vllm.sh sends, and what
        # servers without token-id prompts accept. The tokenizer still splits context and continuation.
        "tokenized_requests": False,
    }
    if chat:
        lm = get_model("local-chat-completions")(base_url=f"{base}/v1/chat/completions", **args)
    else:
        tokenizer = request.get("tokenizer")
        backend = {"tokenizer": tokenizer, "tokenizer_backend": "huggingface"} if tokenizer else {}
        lm = get_model("local-completions")(base_url=f"{base}/v1/completions", **backend, **args)
    # An LM object rather than model_args: the results document then records no endpoint settings.
    return lm_eval.simple_evaluate(
        model=lm,
        tasks=tasks,
        task_manager=manager,
        limit=request.get("limit"),
        num_fewshot=request.get("num_fewshot"),
        apply_chat_template=chat,
        log_samples=False,
        bootstrap_iters=1000,
    )


def _generates(manager: Any, name: str) -> bool:
    """Whether every task under `name` (a task or a group) generates text rather than scoring choices."""
    from lm_eval.tasks import get_task_dict

    def leaves(node: Any) -> list[Any]:
        if isinstance(node, dict):
            return [leaf for value in node.values() for leaf in leaves(value)]
        return [node]

    return all(task.OUTPUT_TYPE == "generate_until" for task in leaves(get_task_dict([name], manager)))


def _merge(into: dict[str, Any], results: dict[str, Any] | None) -> None:
    for section in into:
        into[section].update((results or {}).get(section, {}))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
