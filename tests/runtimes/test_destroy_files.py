"""`destroy` removes the files written for a deployment's local engines, and nothing of an instance."""

from __future__ import annotations

from pathlib import Path

from deployctl import settings
from deployctl.deployments import destroy_deployment
from deployctl.runtimes.process import RECORD_FILE


def test_destroy_removes_the_deployments_generated_files_but_never_an_instance_folder(monkeypatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")  # no containers to look at
    run = settings.home() / "run"
    generated = run / "demo" / "trtllm-extra-options-0123456789ab.yaml"
    generated.parent.mkdir(parents=True)
    generated.write_text("kv_cache_config: {}\n")
    instance = run / "other" / RECORD_FILE  # a folder that is an instance's (process record inside)
    instance.parent.mkdir(parents=True)
    instance.write_text("{}")

    destroy_deployment("demo")
    destroy_deployment("other")

    assert not generated.parent.exists()
    assert Path(instance).exists()
