"""The hostile and careless recipe corpus: what a new user (or an attacker with write access to a recipe)
may hand deployctl, grouped by the class of failure it once caused (issue 20).

Each case: (class, id, recipe text, command, exit code, words the message must contain, line, field).
`line`/`field` are None where the input has none (an unreadable file has no field).
"""

from __future__ import annotations

from dataclasses import dataclass

from tests.recipe_samples import GHP, GOOD, HF, NVAPI, SK


def engine(lines: str, name: str = "vllm", base: str = GOOD) -> str:
    """GOOD with `engine:` as a mapping: name on line 6, `lines` from line 7."""
    return base.replace("engine: vllm", f"engine:\n  name: {name}\n{lines}".rstrip("\n"))


def serve(lines: str, base: str = GOOD) -> str:
    """GOOD plus a `serve:` section on line 6, `lines` from line 7."""
    return base + "serve:\n" + lines


def quant(lines: str) -> str:
    """`quantization:` as a mapping on line 4: format on 5, `lines` from 6; engine moves to line 5+n."""
    return GOOD.replace("quantization: fp8", "quantization:\n  format: fp8\n" + lines.rstrip("\n"))


def billion_laughs(levels: int = 9, width: int = 9, kind: str = "seq") -> str:
    rows = ['l0: &l0 "lol"']
    for level in range(1, levels + 1):
        items = ", ".join([f"*l{level - 1}"] * width)
        rows.append(
            f"l{level}: &l{level} [{items}]"
            if kind == "seq"
            else f"l{level}: &l{level} {{{', '.join(f'k{i}: *l{level - 1}' for i in range(width))}}}"
        )
    return "\n".join(rows) + "\n" + GOOD


@dataclass(frozen=True)
class Case:
    cls: str
    id: str
    text: str | bytes
    exit_code: int
    words: tuple[str, ...]
    line: int | None = None
    field: str | None = None
    command: str = "validate"


BOMBS = "YAML that explodes"
SILENT = "silent meaning changes"
UNCHECKED = "unchecked fields"
MORE = "errors that could say more"
SECRET = "secrets"

# One case per line reads as a table; the formatter would spread each over ten lines.
# fmt: off
CASES: list[Case] = [
    # --- YAML that explodes: bounded work, the line of the alias or nesting, never a traceback
    Case(BOMBS, "billion laughs, sequences", billion_laughs(), 2, ("expands to more than", "billion laughs"), 6),
    Case(BOMBS, "billion laughs, mappings", billion_laughs(kind="map"), 2, ("expands to more than",), 6),
    Case(BOMBS, "billion laughs, wide and shallow", billion_laughs(levels=3, width=40), 2, ("expands to more than",), 4),
    Case(BOMBS, "billion laughs through merge keys",
         "a: &a {x: 1, y: 2, z: 3, w: 4}\n" + "".join(
             f"b{i}: &b{i}\n  <<: [{', '.join([f'*b{i - 1}' if i else '*a'] * 1)}]\n  l: [{', '.join([f'*b{i - 1}' if i else '*a'] * 30)}]\n"
             for i in range(6)) + GOOD, 2, ("expands to more than",)),
    Case(BOMBS, "an alias inside its own sequence", "a: &a [1, *a]\n" + GOOD, 2, ("*a", "contain itself"), 1),
    Case(BOMBS, "an alias inside its own mapping", "a: &a\n  b: *a\n" + GOOD, 2, ("contain itself",), 2),
    Case(BOMBS, "an alias inside its own merge", "a: &a\n  <<: *a\n" + GOOD, 2, ("contain itself",), 2),
    Case(BOMBS, "a self-referencing engine section", GOOD.replace("engine: vllm", "engine: &e\n  name: vllm\n  env: *e"), 2, ("contain itself",), 7),
    Case(BOMBS, "5000 nested flow sequences", "model: " + "[" * 5000 + "]" * 5000 + "\nengine: vllm\n", 2, ("nests deeper than",), 1),
    Case(BOMBS, "5000 nested flow mappings", "model: " + "{a: " * 5000 + "1" + "}" * 5000 + "\nengine: vllm\n", 2, ("nests deeper than",), 1),
    Case(BOMBS, "deep block mappings", "".join(f"{'  ' * i}k{i}:\n" for i in range(60)) + "  " * 60 + "v: 1\n", 2, ("nests deeper than",), 33),
    Case(BOMBS, "deep block sequences", "".join(f"{'  ' * i}-\n" for i in range(60)) + "  " * 60 + "- 1\n", 2, ("nests deeper than",)),
    Case(BOMBS, "an undefined alias", "name: demo\nmodel: *model\nengine: vllm\n", 2, ("undefined alias *model",), 2),
    Case(BOMBS, "an alias used before its anchor", "engine: *e\nmodel: Qwen/Qwen3-0.6B\nx: &e vllm\n", 2, ("undefined alias *e",), 1),
    Case(BOMBS, "two documents", GOOD + "---\nname: other\n", 2, ("one YAML document",), 6),
    Case(BOMBS, "an integer of 5000 digits", GOOD + "serve:\n  port: " + "9" * 5000 + "\n", 2, ("cannot be read",)),
    Case(BOMBS, "a file over 1 MiB", GOOD + "#" * (1 << 20) + "\n", 2, ("larger than 1 MiB",)),
    Case(BOMBS, "binary garbage", bytes(range(256)) * 4, 2, ("UTF-8",)),
    Case(BOMBS, "NUL bytes in the text", GOOD + "serve:\n  host: \x00\n", 2, ("YAML syntax error",), 7),
    Case(BOMBS, "a python object tag", "name: !!python/object/apply:os.system ['true']\nmodel: a/b\nengine: vllm\n", 2, ("YAML syntax error",), 1),
    Case(BOMBS, "an unknown local tag", GOOD + "serve: !secret {port: 1}\n", 2, ("YAML syntax error",), 6),
    Case(BOMBS, "a list as a key", GOOD + "? [a, b]\n: 1\n", 2, ("plain name",), 6),
    Case(BOMBS, "a tab for indentation", GOOD + "serve:\n\tport: 8000\n", 2, ("YAML syntax error",), 7),
    # --- silent meaning changes: refused, naming both lines or the field to use instead
    Case(SILENT, "quantization given twice", GOOD + "quantization: nvfp4\n", 2, ("'quantization' is given twice", "lines 4 and 6"), 6, "quantization"),
    Case(SILENT, "a nested key given twice", serve("  port: 8000\n  port: 9000\n"), 2, ("'port' is given twice", "lines 7 and 8"), 8, "serve.port"),
    Case(SILENT, "an env variable given twice", engine("  env:\n    A: '1'\n    A: '2'\n"), 2, ("'A' is given twice",), 9, "engine.env.A"),
    Case(SILENT, "the engine given twice, spelt differently", GOOD + "engine: trtllm\n", 2, ("given twice", "lines 5 and 6"), 6),
    Case(SILENT, "extra_args --host beside serve.host", engine("  extra_args: [--host, 0.0.0.0]\n") + "serve:\n  host: 127.0.0.1\n", 2, ("'--host' overrides", "serve.host"), 7, "engine.extra_args.0"),
    Case(SILENT, "extra_args --port", engine("  extra_args: ['--port=9999']\n"), 2, ("'--port' overrides", "serve.port"), 7),
    Case(SILENT, "extra_args --served-model-name", engine("  extra_args: [--served-model-name, x]\n"), 2, ("serve.served_name",), 7),
    Case(SILENT, "extra_args --max_model_len (underscores)", engine("  extra_args: ['--max_model_len', '999999']\n"), 2, ("engine.max_model_len",), 7),
    Case(SILENT, "extra_args --max-model (an argparse prefix)", engine("  extra_args: [--max-model, '999999']\n"), 2, ("engine.max_model_len",), 7),
    Case(SILENT, "extra_args -tp", engine("  extra_args: [-tp, '8']\n"), 2, ("gpu.count",), 7),
    Case(SILENT, "extra_args --tensor-parallel-size", engine("  extra_args: [--tensor-parallel-size, '8']\n"), 2, ("gpu.count",), 7),
    Case(SILENT, "extra_args --quantization", engine("  extra_args: [--quantization, awq]\n"), 2, ("quantization.format",), 7),
    Case(SILENT, "extra_args --kv-cache-dtype", engine("  extra_args: [--kv-cache-dtype, fp8]\n"), 2, ("quantization.kv_cache",), 7),
    Case(SILENT, "extra_args --gpu-memory-utilization", engine("  extra_args: [--gpu-memory-utilization, '0.99']\n"), 2, ("engine.gpu_memory_utilization",), 7),
    Case(SILENT, "extra_args --uds instead of host:port", engine("  extra_args: [--uds, /tmp/s]\n"), 2, ("'--uds' overrides",), 7),
    Case(SILENT, "extra_args --config (a YAML of any flag)", engine("  extra_args: [--config, x.yaml]\n"), 2, ("'--config' overrides",), 7),
    Case(SILENT, "trtllm extra_args --host", engine("  extra_args: [--host, 0.0.0.0]\n", name="trtllm"), 2, ("serve.host",), 7),
    Case(SILENT, "trtllm extra_args --tp_size", engine("  extra_args: [--tp_size, '4']\n", name="trtllm"), 2, ("gpu.count",), 7),
    Case(SILENT, "trtllm extra_args --max_seq_len", engine("  extra_args: [--max_seq_len, '9999']\n", name="trtllm"), 2, ("engine.max_model_len",), 7),
    Case(SILENT, "trtllm extra_args --extra_llm_api_options", engine("  extra_args: [--extra_llm_api_options, o.yaml]\n", name="trtllm"), 2, ("overrides",), 7),
    Case(SILENT, "transformers extra_args --port", GOOD.replace("gpu: \"H100 SXM\"", "gpu: cpu").replace("quantization: fp8", "quantization: none").replace("engine: vllm", "engine:\n  name: transformers\n  extra_args: [--port, '1']"), 2, ("serve.port",), 7),
    Case(SILENT, "a .inf health timeout", serve("  health_timeout_s: .inf\n"), 2, ("finite",), 7, "serve.health_timeout_s"),
    Case(SILENT, "a .nan quality limit", quant("  quality:\n    max_perplexity_increase: .nan\n"), 2, ("finite",), 7, "quantization.quality.max_perplexity_increase"),
    Case(SILENT, "a negative quality limit", quant("  quality:\n    max_perplexity_increase: -0.5\n"), 2, ("greater than or equal to 0",), 7),
    Case(SILENT, "a negative percentage limit", quant("  quality:\n    max_perplexity_increase: '-5%'\n"), 2, ("greater than or equal to 0",), 7),
    Case(SILENT, "a .nan top-1 agreement", quant("  quality:\n    min_top1_agreement: .nan\n"), 2, ("finite",), 7),
    Case(SILENT, "a .nan memory share", engine("  gpu_memory_utilization: .nan\n"), 2, ("finite",), 7),
    Case(SILENT, "a smoke timeout of a year", GOOD + "smoke:\n  timeout_s: 31536000\n", 2, ("less than or equal",), 7, "smoke.timeout_s"),
    Case(SILENT, "a health timeout of -1", serve("  health_timeout_s: -1\n"), 2, ("greater than 0",), 7),
    Case(SILENT, "max_batch_size of 10**12", engine("  max_batch_size: 1000000000000\n"), 2, ("less than or equal",), 7),
    Case(SILENT, "an .inf written as text", serve("  health_timeout_s: '1e999'\n"), 2, ("finite",), 7),
    # --- unchecked fields: grammar, the model's context, local files
    Case(UNCHECKED, "a host with a space", serve("  host: 'my host'\n"), 2, ("not an IP address or host name",), 7, "serve.host"),
    Case(UNCHECKED, "a host with a scheme", serve("  host: http://127.0.0.1\n"), 2, ("not an IP address",), 7),
    Case(UNCHECKED, "a host that is an out-of-range address", serve("  host: 999.1.1.1\n"), 2, ("not an IP address",), 7),
    Case(UNCHECKED, "a host label over 63 characters", serve(f"  host: {'a' * 64}.example\n"), 2, ("not an IP address",), 7),
    Case(UNCHECKED, "an image with a space", engine("  image: 'vllm/vllm-openai latest'\n"), 2, ("image reference",), 7, "engine.image"),
    Case(UNCHECKED, "an image in upper case", engine("  image: Vllm/VLLM-openai:v1\n"), 2, ("image reference",), 7),
    Case(UNCHECKED, "an image with a shell command", engine("  image: 'vllm:v1; rm -rf /'\n"), 2, ("image reference",), 7),
    Case(UNCHECKED, "an image tag of 200 characters", engine(f"  image: vllm/vllm-openai:{'a' * 200}\n"), 2, ("image reference",), 7),
    Case(UNCHECKED, "a digest that is too short", engine("  image: vllm/vllm-openai@sha256:abc\n"), 2, ("image reference",), 7),
    Case(UNCHECKED, "a served name with spaces", serve("  served_name: 'my model'\n"), 2, ("not a served model name",), 7, "serve.served_name"),
    Case(UNCHECKED, "a served name with a newline", serve("  served_name: \"a\\nb\"\n"), 2, ("not a served model name",), 7),
    Case(UNCHECKED, "a served name with quotes", serve("  served_name: 'a\"b'\n"), 2, ("not a served model name",), 7),
    Case(UNCHECKED, "a deployment name with a slash", GOOD.replace("name: demo", "name: ../etc"), 2, ("name",), 1, "name"),
    Case(UNCHECKED, "a deployment name of 100 characters", GOOD.replace("name: demo", f"name: {'a' * 100}"), 2, ("name",), 1),
    Case(UNCHECKED, "max_model_len beyond the model's context", engine("  max_model_len: 100000\n"), 1, ("longer than the model's context of 40,960",), 7, "engine.max_model_len"),
    Case(UNCHECKED, "max_model_len of 2**40", engine("  max_model_len: 1099511627776\n"), 2, ("less than or equal",), 7),
    Case(UNCHECKED, "a missing calibration file", quant("  calibration:\n    dataset: ./no-such-file.txt\n"), 2, ("does not exist",), 7, "quantization.calibration.dataset"),
    Case(UNCHECKED, "a calibration file of the wrong kind", quant("  calibration:\n    dataset: ./recipe.yaml\n"), 2, ("neither .txt nor .jsonl",), 7),
    Case(UNCHECKED, "a calibration folder", quant("  calibration:\n    dataset: ./\n"), 2, ("not a file",), 7),
    Case(UNCHECKED, "a missing model folder", GOOD.replace("model: Qwen/Qwen3-0.6B", "model: ./no-such-model"), 2, ("does not exist",), 2, "model.path"),
    Case(UNCHECKED, "a model folder without config.json", GOOD.replace("model: Qwen/Qwen3-0.6B", "model: ./"), 2, ("config.json is missing",), 2, "model.path"),
    # --- errors that could say more: the line, and "did you mean" for a misspelt required key
    Case(MORE, "a misspelt engine key", GOOD.replace("engine: vllm", "engin: vllm"), 2, ("unknown key 'engin'", "did you mean 'engine'"), 5, "engin"),
    Case(MORE, "a misspelt model key", GOOD.replace("model: Qwen", "modle: Qwen"), 2, ("unknown key 'modle'", "did you mean 'model'"), 2),
    Case(MORE, "a misspelt nested required key", GOOD.replace("engine: vllm", "engine:\n  nme: vllm"), 2, ("unknown key 'nme'", "did you mean 'name'"), 6),
    Case(MORE, "a capability rejection names its line", GOOD.replace("H100 SXM", "RTX 4090").replace("fp8", "nvfp4").replace("vllm", "trtllm"), 1, ("nvfp4",), 4, "quantization.format"),
    Case(MORE, "an API key with trtllm names its line", GOOD.replace("vllm", "trtllm") + "serve:\n  port: 8000\n  api_key_env: MY_KEY\n", 1, ("API key",), 8),
    Case(MORE, "a memory rejection names its line", GOOD.replace("Qwen3-0.6B", "Qwen3-32B").replace("H100 SXM", "RTX 4090").replace("fp8", "none"), 1, ("weights",), 3, "gpu.type"),
    Case(MORE, "a KV rejection names the max_model_len line", engine("  max_model_len: 40960\n  gpu_memory_utilization: 0.6\n", base=GOOD.replace("Qwen3-0.6B", "Qwen3-8B").replace("H100 SXM", "RTX 4090")), 1, ("KV cache",), 7, "engine.max_model_len"),
    Case(MORE, "several nodes for apply names its line", GOOD.replace('gpu: "H100 SXM"', 'gpu:\n  type: "H100 SXM"\n  nodes: 2'), 1, ("needs a cluster",), 5, "gpu.nodes", "plan"),
    Case(MORE, "gpu: auto without a driver names the recipe", GOOD.replace('gpu: "H100 SXM"', "gpu: auto"), 1, ("NVIDIA",), 3, "gpu.type"),
    # --- secrets: refused wherever a value reaches argv or a file, never echoed back
    Case(SECRET, "an HF token in extra_args", engine(f"  extra_args: [--foo, {HF}]\n"), 2, ("carries a secret",), 7),
    Case(SECRET, "an --api-key value in extra_args", engine("  extra_args: [--api-key, s3cr3t-value-123]\n"), 2, ("carries a secret", "serve.api_key_env"), 7),
    Case(SECRET, "an --api-key=value in extra_args", engine("  extra_args: ['--api-key=s3cr3t-value-123']\n"), 2, ("carries a secret",), 7),
    Case(SECRET, "an --hf-token value in extra_args", engine("  extra_args: [--hf-token, s3cr3t-value-123]\n"), 2, ("carries a secret",), 7),
    Case(SECRET, "a password flag in extra_args", engine("  extra_args: [--ssl-keyfile-password, s3cr3t-value-123]\n"), 2, ("carries a secret",), 7),
    Case(SECRET, "an OpenAI key embedded in a flag value", engine(f"  extra_args: ['--header=Authorization: Bearer {SK}']\n"), 2, ("carries a secret",), 7),
    Case(SECRET, "an NVIDIA key in the engine environment", engine(f"  env:\n    NGC_THING: {NVAPI}\n"), 2, ("looks like a secret",), 7, "engine.env"),
    Case(SECRET, "a GitHub token inside an env value", engine(f"  env:\n    EXTRA: 'url=https://{GHP}@github.com'\n"), 2, ("looks like a secret",), 7, "engine.env"),
    Case(SECRET, "a secret-named env variable", engine("  env:\n    DB_PASSWORD: s3cr3t-value-123\n"), 2, ("looks like a secret",), 7, "engine.env"),
    Case(SECRET, "an API key as the served name", serve(f"  served_name: {SK}\n"), 2, ("secret",), 7),
    Case(SECRET, "an HF token as the API key variable", serve(f"  api_key_env: {HF}\n"), 2, ("NAME of an environment variable",), 7),
    Case(SECRET, "a secret in extra_args refused by compose too", engine(f"  extra_args: [--foo, {HF}]\n"), 2, ("carries a secret",), 7, None, "compose"),
    Case(SECRET, "a secret in extra_args refused by render too", engine(f"  extra_args: [--foo, {HF}]\n"), 2, ("carries a secret",), 7, None, "render"),
    Case(SECRET, "a secret in extra_args refused by plan too", engine(f"  extra_args: [--foo, {HF}]\n"), 2, ("carries a secret",), 7, None, "plan"),
]
# fmt: on
