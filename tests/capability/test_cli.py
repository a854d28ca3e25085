"""`deployctl capabilities` and `deployctl gpus` as a user runs them (real entry point, fake NVML library)."""

from __future__ import annotations

import json
import sys
import types

import pytest

from tests.cli_helpers import run_cli


def test_capabilities_json_lists_verdicts_for_the_chosen_gpu():
    result = run_cli("--json", "capabilities", "--gpu", "rtx-4090", "--format", "nvfp4", "--kv", "none")
    assert result.exit_code == 0, result.output
    rows = {row["engine"]: row["level"] for row in json.loads(result.stdout)}
    assert rows == {
        "trtllm": "rejected",
        "vllm": "fallback",
        "transformers": "rejected",
        "sglang": "fallback",
    }


def test_capabilities_table_shows_reasons_for_one_gpu():
    result = run_cli(
        "capabilities", "--gpu", "A100 80GB", "--format", "fp8", "--engine", "vllm", "--kv", "none"
    )
    assert result.exit_code == 0, result.output
    assert "fallback" in result.stdout and "Marlin" in result.stdout


def test_capabilities_matrix_has_one_column_per_default_gpu():
    result = run_cli("capabilities", "--format", "none", "--kv", "none")
    assert result.exit_code == 0, result.output
    assert "B200" in result.stdout and "cpu" in result.stdout


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("capabilities", "--gpu", "H100 SMX"), "H100 SXM"),
        (("capabilities", "--engine", "tgi"), "sglang"),
    ],
    ids=[
        "a misspelt GPU is a usage error suggesting the right name",
        "an unknown engine lists the valid ones",
    ],
)
def test_capabilities_bad_input_is_a_usage_error(args, needle):
    result = run_cli(*args)
    assert result.exit_code == 2
    assert needle in result.stderr and "Traceback" not in result.output


def _fake_pynvml(monkeypatch, *, fail: bool):
    fake = types.ModuleType("pynvml")

    class NVMLError(Exception):
        pass

    def init():
        if fail:
            raise NVMLError("NVML Shared Library Not Found")

    memory = types.SimpleNamespace(total=81559 * 2**20)
    fake.NVMLError = NVMLError
    fake.nvmlInit = init
    fake.nvmlShutdown = lambda: None
    fake.nvmlSystemGetDriverVersion = lambda: "580.159.04"
    fake.nvmlDeviceGetCount = lambda: 1
    fake.nvmlDeviceGetHandleByIndex = lambda index: index
    fake.nvmlDeviceGetCudaComputeCapability = lambda handle: (9, 0)
    fake.nvmlDeviceGetName = lambda handle: b"NVIDIA H100 80GB HBM3"
    fake.nvmlDeviceGetMemoryInfo = lambda handle: memory
    monkeypatch.setitem(sys.modules, "pynvml", fake)


def test_gpus_without_a_driver_exits_1_with_a_hint(monkeypatch):
    _fake_pynvml(monkeypatch, fail=True)
    result = run_cli("gpus")
    assert result.exit_code == 1
    assert "NVML" in result.stderr and "Hint:" in result.stderr and "Traceback" not in result.output


def test_gpus_lists_what_nvml_sees_with_the_catalogue_match(monkeypatch):
    _fake_pynvml(monkeypatch, fail=False)
    result = run_cli("--json", "gpus")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == [
        {
            "index": 0,
            "name": "NVIDIA H100 80GB HBM3",
            "compute_capability": "9.0",
            "memory_gib": 79.6,
            "driver": "580.159.04",
            "catalogue": "H100 SXM",
        }
    ]
