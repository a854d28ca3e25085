"""explain(): the root cause of a failed start, not the tail; a hint when the cause is a known one."""

from __future__ import annotations

from pathlib import Path

import pytest

from deployctl.serve.start_failure import explain, load_signatures

DATA = Path(__file__).parent / "data"
# Laid out like vLLM 0.24.0 logs a failed start (vllm/v1/engine/core.py run_engine_core,
# vllm/v1/engine/utils.py wait_for_engine_startup); the TypeError is the one measured on the H200.
VLLM_KV_SCALE = (DATA / "vllm-0.24-kv-scale-failure.log").read_text()


def test_vllm_root_cause_is_the_engine_core_exception_not_the_api_server_wrapper() -> None:
    failure = explain(VLLM_KV_SCALE)
    last = failure.root_cause.splitlines()[-1]
    assert (
        last
        == "TypeError: KVCacheScaleParameter.weight_loader() takes 2 positional arguments but 3 were given"
    )
    assert "qwen2.py" in failure.root_cause  # the innermost frames are kept
    assert "[core.py:1108]" not in failure.root_cause and "pid=" not in failure.root_cause
    assert "See root cause above" not in failure.root_cause
    assert failure.signature == "kv-scale-loader"
    assert "kv_cache_scales: fixed" in (failure.hint or "")


def test_long_tracebacks_keep_the_innermost_frames_and_say_what_was_left_out() -> None:
    frames = [f'  File "/x/mod{i}.py", line {i}, in f{i}\n    call{i}()' for i in range(30)]
    log = "starting\nTraceback (most recent call last):\n" + "\n".join(frames) + "\nValueError: boom\n"
    lines = explain(log).root_cause.splitlines()
    assert lines[-1] == "ValueError: boom"
    assert "lines of frames left out" in lines[1]
    assert "call29()" in lines[-2]
    assert len(lines) <= 12


def test_chained_exceptions_report_the_first_raised() -> None:
    log = (
        'Traceback (most recent call last):\n  File "a.py", line 1, in <module>\n'
        "OSError: libcudart.so.13: cannot open shared object file: No such file or directory\n\n"
        "The above exception was the direct cause of the following exception:\n\n"
        'Traceback (most recent call last):\n  File "b.py", line 2, in <module>\n'
        "ImportError: vllm._C failed to load\n"
    )
    failure = explain(log)
    assert failure.root_cause.splitlines()[-1].startswith("OSError: libcudart.so.13")
    assert failure.signature == "missing-shared-library"


@pytest.mark.parametrize(
    ("log", "signature"),
    [
        pytest.param(
            "(EngineCore_DP0 pid=7) ERROR 11-30 10:00:00 [core.py:1] torch.OutOfMemoryError: CUDA out of memory. "
            "Tried to allocate 2.00 GiB",
            "cuda-out-of-memory",
            id="CUDA out of memory gets the memory hint",
        ),
        pytest.param(
            "ValueError: The quantization method modelopt is not supported for the current GPU. "
            "Minimum capability: 89. Current capability: 80.",
            "min-capability",
            id="vLLM's minimum capability refusal gets the GPU hint",
        ),
        pytest.param(
            "ValueError: ModelOpt currently only supports: ['FP8', 'NVFP4'] quantizations in vLLM.",
            "unsupported-quantization",
            id="an unsupported quant_algo gets the format hint",
        ),
        pytest.param(
            "RuntimeError: CUDA error: no kernel image is available for execution on the device",
            "no-kernel-image",
            id="no kernel image gets the architecture hint",
        ),
        pytest.param(
            "ERROR:    [Errno 98] error while attempting to bind on address ('127.0.0.1', 8000): address already in use",
            "port-in-use",
            id="a taken port gets the port hint",
        ),
        pytest.param(
            "ImportError: libnccl.so.2: cannot open shared object file: No such file or directory",
            "missing-shared-library",
            id="a missing shared library gets the library hint",
        ),
        pytest.param(
            "vllm: error: unrecognized arguments: --no-such-flag",
            "unrecognized-argument",
            id="an unknown flag gets the version hint",
        ),
        pytest.param(
            "ValueError: ... (12.0 GiB KV cache is needed, which is larger than the available KV cache memory (3.1 GiB)",
            "kv-cache-too-small",
            id="too little KV cache memory gets the max_model_len hint",
        ),
    ],
)
def test_known_signatures_add_a_hint(log: str, signature: str) -> None:
    failure = explain("INFO starting\n" + log + "\n")
    assert failure.signature == signature
    assert failure.hint and failure.source


def test_without_a_traceback_the_error_lines_are_the_root_cause() -> None:
    log = "\n".join([f"INFO 11-30 10:00:{i:02d} [x.py:1] loading {i}" for i in range(50)])
    log += "\nERROR 11-30 10:01:00 [x.py:9] Failed to load the tokenizer\n" + "INFO shutting down\n" * 5
    failure = explain(log)
    assert failure.root_cause == "Failed to load the tokenizer"
    assert failure.hint is None


def test_an_unknown_failure_shows_the_last_lines() -> None:
    log = "\n".join(f"step {i}" for i in range(100))
    assert explain(log).root_cause.splitlines()[-1] == "step 99"
    assert len(explain(log).root_cause.splitlines()) == 20


def test_every_signature_has_a_source_and_compiles() -> None:
    names = [s.name for s in load_signatures()]
    assert len(names) == len(set(names)) >= 10
    assert all(len(s.source) > 8 and len(s.hint) > 20 for s in load_signatures())
