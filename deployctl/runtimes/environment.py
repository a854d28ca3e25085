"""The engine's environment: literal values from the spec, plus values read from the operator's.

Same rules for every runtime, so a deployment behaves alike in a container and as a process:

1. `spec.env` — literal, non-secret values from the recipe and the engine adapter;
2. `spec.secret_env` — engine variable → NAME of the operator's variable; the value is read here, at
   launch, and never stored. A missing variable is an error naming it (never showing any value);
3. `spec.passthrough_env` — copied when set in the operator's environment (HF_TOKEN, NCCL switches).

Secret values can still appear in an engine's own output; `redact` masks them in anything deployctl
prints (log tails in errors, `deployctl logs`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping

from deployctl.errors import DeployctlError
from deployctl.launch_spec import LaunchSpec
from deployctl.recipe.grammar import SECRET_SHAPES

_MIN_SECRET_LEN = 4


def engine_environment(spec: LaunchSpec, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The variables the engine gets (on top of what its image or base environment provides)."""
    environ = os.environ if environ is None else environ
    env = dict(spec.env)
    for name in spec.passthrough_env:
        if name in environ:
            env[name] = environ[name]
    missing = [source for source in spec.secret_env.values() if not environ.get(source)]
    if missing:
        names = ", ".join(sorted(set(missing)))
        raise DeployctlError(
            f"the environment variable {names} is not set; the engine needs it for its API key",
            hint=f"export {missing[0]}=... in the shell that runs deployctl (the recipe names the "
            "variable under serve.api_key_env; its value is never written anywhere)",
        )
    for target, source in spec.secret_env.items():
        env[target] = environ[source]
    return env


def secret_values(spec: LaunchSpec, environ: Mapping[str, str] | None = None) -> list[str]:
    """Values of the spec's secrets as currently set (for redaction only)."""
    environ = os.environ if environ is None else environ
    names = [*spec.secret_env.values(), *(name for name in spec.passthrough_env if "TOKEN" in name)]
    if spec.api_key_env:
        names.append(spec.api_key_env)
    return [environ[name] for name in names if len(environ.get(name, "")) >= _MIN_SECRET_LEN]


# Masked whatever the caller's environment holds: token shapes, and values after the words that
# announce a secret (`--api-key X`, `Authorization: Bearer X`, `HF_TOKEN=X`, `"api_key": "X"`).
_ANNOUNCED = re.compile(
    r"""(?ix)
    (authorization["']?\s*[:=]\s*["']?(?:bearer|basic|token)\s+)   # Authorization: Bearer X
    ([^\s"',;]+)
    |
    ((?:--?|\b)[\w.-]*(?:api[_-]?key|token|secret|password|passwd)["']?(?:\s*[:=]\s*|\s+)["']?)
    ([^\s"',;]+)
    """
)


def redact(text: str, secrets: Iterable[str]) -> str:
    """Mask every secret value in `text` (longest first, so overlapping values mask fully), then
    anything shaped like a token or announced as one, so that masking does not depend on which
    variables happen to be set where deployctl runs."""
    for value in sorted(set(secrets), key=len, reverse=True):
        text = text.replace(value, "***")
    text = SECRET_SHAPES.sub("***", text)
    return _ANNOUNCED.sub(_mask_announced, text)


def _mask_announced(match: re.Match[str]) -> str:
    if match.group(1) is not None:
        return f"{match.group(1)}***"
    value = match.group(4)
    if value == "***" or value.lower() in _NOT_VALUES:
        return match.group(0)
    return f"{match.group(3)}***"


# Words that follow "token"/"key" in ordinary log lines without being a value.
_NOT_VALUES = {"is", "not", "set", "none", "null", "missing", "required", "of", "for", "to", "the", "a"}
