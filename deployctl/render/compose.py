"""A Compose file (Docker Compose ≥ 2.23, podman-compose ≥ 1.6) for one deployment, from its LaunchSpec.

A thin wrapper over `render.pod.describe_pod`: the compose service starts exactly the container
`deployctl apply` would (same image, entrypoint, command, literal environment, mounts, labels).
What compose adds, and why:

- Values that differ per machine are compose variables, never baked in: the checkpoint folder
  (`DEPLOYCTL_CHECKPOINT`: required when deployctl did not find the checkpoint locally, a default when
  it did), the published address (`DEPLOYCTL_HOST_IP`, `DEPLOYCTL_PORT`, defaults from the recipe) and the
  Hugging Face cache (`HF_HUB_CACHE`, default `~/.cache/huggingface/hub`).
- Secrets stay in the operator's shell: `VLLM_API_KEY: ${MY_KEY_VAR:?...}` names the variable, and
  compose refuses to start when it is unset instead of serving without a key.
- Passthrough variables (HF_TOKEN, NCCL switches) are listed without a value: compose copies them when
  set and leaves them unset otherwise (`${NAME:-}` would set them to "", which NCCL reads as 0).
- Literal `$` in engine arguments is escaped as `$$` so compose never interpolates it.
- Generated files (trtllm's extra options) are inline `configs` with `content` (Compose ≥ 2.23).
"""

from __future__ import annotations

from typing import Any

import yaml

from deployctl.recipe.model import Recipe
from deployctl.render.from_recipe import render_input
from deployctl.render.pod import PodDescription, Volume, describe_pod

CHECKPOINT_VAR = "DEPLOYCTL_CHECKPOINT"
HOST_IP_VAR = "DEPLOYCTL_HOST_IP"
PORT_VAR = "DEPLOYCTL_PORT"
HF_CACHE_SOURCE = "${HF_HUB_CACHE:-~/.cache/huggingface/hub}"
ENGINE_CACHE_VOLUME = "engine-cache"


def checkpoint_reference(local_path: str | None, *, recipe_path: str) -> str:
    """The checkpoint's host folder as a compose variable: a default when deployctl knows the folder,
    else required, with the command that produces it in compose's error message."""
    if local_path:
        return f"${{{CHECKPOINT_VAR}:-{_escape(local_path)}}}"
    return (
        f"${{{CHECKPOINT_VAR}:?set {CHECKPOINT_VAR} to the checkpoint folder that "
        f"deployctl quantize {recipe_path} prints}}"
    )


def secret_reference(operator_var: str) -> str:
    return f"${{{operator_var}:?export {operator_var} with the API key (deployctl never stores it)}}"


def render_compose(pod: PodDescription) -> dict[str, Any]:
    """The compose document (a plain dict, ready for YAML) that runs `pod`."""
    service: dict[str, Any] = {
        "image": pod.image,
        "container_name": pod.container_name,
        "entrypoint": [_escape(part) for part in pod.entrypoint],
        "command": [_escape(part) for part in pod.command],
        "environment": _environment(pod),
        "volumes": [_volume(volume) for volume in pod.volumes],
        "healthcheck": {
            "test": ["CMD", *(_escape(part) for part in pod.health.command)],
            "interval": f"{pod.health.interval_s}s",
            "timeout": f"{pod.health.timeout_s}s",
            "retries": pod.health.retries,
            "start_period": f"{pod.health.start_period_s}s",
        },
        "labels": {key: _escape(value) for key, value in pod.labels.items()},
        "restart": "unless-stopped",
    }
    if pod.host_network:
        service["network_mode"] = "host"
    elif pod.host_port == 0:  # serve.network: a loopback port the engine picks, for local checks only
        service["ports"] = [f"${{{HOST_IP_VAR}:-{pod.publish_host}}}::{pod.container_port}"]
    else:
        service["ports"] = [
            f"${{{HOST_IP_VAR}:-{pod.publish_host}}}:${{{PORT_VAR}:-{pod.host_port}}}:{pod.container_port}"
        ]
    if pod.service_network:  # clients on it reach http://<name>:<port>, as with `deployctl apply`
        service["networks"] = {"default": None, pod.service_network: {"aliases": [pod.name]}}
    if pod.ipc_host:
        service["ipc"] = "host"
    elif pod.shm_size:
        service["shm_size"] = pod.shm_size
    if pod.gpu_count > 0:
        device = {"driver": "nvidia", "count": pod.gpu_count, "capabilities": ["gpu"]}
        service["deploy"] = {"resources": {"reservations": {"devices": [device]}}}
    document: dict[str, Any] = {"name": pod.name, "services": {pod.name: service}}
    if pod.config_files:
        config_names = {f.name: f"{pod.name}-{f.name.replace('.', '-')}" for f in pod.config_files}
        service["configs"] = [{"source": config_names[f.name], "target": f.target} for f in pod.config_files]
        document["configs"] = {
            config_names[f.name]: {"content": _escape(f.content)} for f in pod.config_files
        }
    if pod.service_network:
        document["networks"] = {pod.service_network: {"name": pod.service_network}}
    named = sorted({v.source for v in pod.volumes if v.kind == "volume"})
    if named:
        document["volumes"] = {name: {} for name in named}
    return document


def compose_yaml(document: dict[str, Any], *, header: str = "") -> str:
    """YAML text with keys in the order written above; `header` becomes leading comment lines."""
    body = yaml.safe_dump(document, sort_keys=False, default_flow_style=False, width=1000, allow_unicode=True)
    comments = "".join(f"# {line}\n" if line else "#\n" for line in header.splitlines())
    return comments + body


def _environment(pod: PodDescription) -> dict[str, str | None]:
    env: dict[str, str | None] = {key: _escape(value) for key, value in pod.env.items()}
    for engine_var, operator_var in pod.secret_env.items():
        env[engine_var] = secret_reference(operator_var)
    for name in pod.passthrough_env:
        env.setdefault(name, None)
    return env


def _volume(volume: Volume) -> dict[str, Any]:
    if volume.kind == "volume":
        return {"type": "volume", "source": volume.source, "target": volume.target}
    return {
        "type": "bind",
        "source": volume.source,
        "target": volume.target,
        "read_only": volume.read_only,
        # A missing checkpoint must fail loudly; a missing cache folder is simply created.
        "bind": {"create_host_path": not volume.read_only},
    }


def _escape(text: str) -> str:
    """Compose interpolates `$`; a literal dollar is written `$$`."""
    return text.replace("$", "$$")


def render_recipe_compose(recipe: Recipe, *, recipe_path: str, portable: bool = False) -> str:
    """The compose file for a recipe, with a header saying where it came from and how to refresh it."""
    source = render_input(
        recipe, hf_cache=HF_CACHE_SOURCE, engine_cache=ENGINE_CACHE_VOLUME, portable=portable
    )
    local = str(source.local_checkpoint) if source.local_checkpoint else None
    pod = describe_pod(
        source.spec,
        checkpoint_source=checkpoint_reference(local, recipe_path=recipe_path),
        publish_host=source.publish_host,
        engine_cache_volume=ENGINE_CACHE_VOLUME,
    )
    flags = " --portable" if portable else ""
    header = (
        f"Generated by `deployctl compose {recipe_path}{flags}` from the same LaunchSpec `deployctl apply` uses.\n"
        "Do not edit: change the recipe and render again.\n"
        f"Variables: {CHECKPOINT_VAR} (checkpoint folder), {HOST_IP_VAR} / {PORT_VAR} (published address),\n"
        "HF_HUB_CACHE (Hugging Face cache); secrets are read from your shell by name. Compose needs them for\n"
        "`up` and `down` alike: keep them in a .env file beside this one.\n"
        f"Run: {CHECKPOINT_VAR}=/path/to/checkpoint docker compose -f THIS_FILE up -d   (or podman-compose)"
    )
    return compose_yaml(render_compose(pod), header=header)
