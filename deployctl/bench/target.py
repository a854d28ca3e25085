"""NAME or URL → where to send load, which model to ask for, and what the roofline needs.

A URL is used as given (`/v1` appended when missing). A NAME is a deployment in deployctl's state,
which knows the endpoint, the served model, the API key variable, the GPU and the checkpoint folder.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from deployctl.errors import UsageError, unknown_deployment


@dataclass(frozen=True)
class Target:
    base_url: str  # ends with /v1
    model: str | None = None
    api_key_env: str | None = None
    gpu: str | None = None
    checkpoint: Path | None = None


def resolve_target(name_or_url: str) -> Target:
    if name_or_url.startswith(("http://", "https://")):
        return Target(base_url=v1_url(name_or_url))
    return _from_state(name_or_url)


def v1_url(url: str) -> str:
    url = url.rstrip("/")
    return url if url.endswith("/v1") else f"{url}/v1"


def _from_state(name: str) -> Target:
    from deployctl.state import StateStore

    record = StateStore().load(name)
    if record is None:
        raise unknown_deployment(
            name, hint="`deployctl list` shows deployments; or pass the endpoint URL, e.g. http://127.0.0.1:8000"
        )
    gpu = (record.recipe.get("gpu") or {}).get("type")
    return Target(
        base_url=v1_url(record.endpoint),
        model=record.spec.engine_args.served_name,
        api_key_env=record.spec.api_key_env,
        gpu=gpu if gpu not in (None, "auto", "cpu") else None,
        checkpoint=Path(record.checkpoint_path),
    )


def first_model(base_url: str, api_key: str) -> str:
    """The first model the server lists (`GET /v1/models`), for servers that serve exactly one."""
    from openai import OpenAI

    try:
        models = OpenAI(base_url=base_url, api_key=api_key, timeout=10, max_retries=0).models.list()
    except Exception as exc:
        raise UsageError(
            f"cannot list models at {base_url}: {type(exc).__name__}",
            hint="is the server up? pass --model NAME to skip the lookup",
        ) from None
    if not models.data:
        raise UsageError(f"{base_url}/models lists no model", hint="pass --model NAME")
    return models.data[0].id


def bandwidth_for(gpu: str | None) -> float | None:
    """Datasheet memory bandwidth (GB/s) from the GPU catalogue, when the GPU is known."""
    if not gpu:
        return None
    from deployctl.capability.catalogue import find_gpu

    info = find_gpu(gpu)
    return info.bandwidth_gb_s if info else None
