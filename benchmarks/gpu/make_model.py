"""A random-weight model with a published shape (deployctl/data/models.yaml), for runs where no weights
can be downloaded: config.json, a word-level tokenizer covering the whole vocabulary ("w3 w4 …", so prompts
of known token counts can be written by hand) and bf16 safetensors, sharded like a Hub checkpoint.

    python benchmarks/gpu/make_model.py Qwen/Qwen3-8B /tmp/models/q8b            # weights on the GPU
    python benchmarks/gpu/make_model.py Qwen/Qwen3-32B /tmp/models/q32b          # ~65 GB, sharded
    python benchmarks/gpu/make_model.py meta-llama/Llama-3.1-70B /tmp/models/l70 --no-weights

The weights are written tensor by tensor straight into safetensors shards (no transformers model is
built, so a 32B model never needs 2 × 65 GB of host memory): normal(0, 0.02) for matrices and embeddings,
ones for the RMSNorm scales (as transformers initialises them). On a GPU each tensor is drawn there; on
CPU slices of one shared random pool are copied (drawing 30 G values on CPU would take minutes).
`--no-weights` writes only config.json and the tokenizer: what `model.weights: dummy` needs.
Meta-Llama ids get a LlamaForCausalLM config (rope llama3, theta 500000), the others Qwen3ForCausalLM.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

SHARD_BYTES = 5 * 2**30  # the Hub's usual shard size
POOL_VALUES = 1 << 24  # CPU: 16 Mi bf16 values (32 MiB) to slice tensors from


def config_for(model_id: str, shape: Any) -> dict[str, Any]:
    """config.json in the form the official repos use (keys transformers 4.x and 5.x both read)."""
    common = {
        "hidden_size": shape.hidden, "intermediate_size": shape.intermediate,
        "num_hidden_layers": shape.layers, "num_attention_heads": shape.heads,
        "num_key_value_heads": shape.kv_heads, "head_dim": shape.head_dim, "vocab_size": shape.vocab,
        "max_position_embeddings": shape.max_position, "tie_word_embeddings": shape.tied,
        "hidden_act": "silu", "initializer_range": 0.02, "attention_bias": False, "attention_dropout": 0.0,
        "use_cache": True, "torch_dtype": "bfloat16", "bos_token_id": None, "eos_token_id": 2, "pad_token_id": 0,
    }  # fmt: skip
    if model_id.lower().startswith("meta-llama/"):
        # huggingface.co/meta-llama/Llama-3.1-70B/blob/main/config.json (rope_scaling, rms_norm_eps, theta)
        return {
            "architectures": ["LlamaForCausalLM"], "model_type": "llama", **common,
            "rms_norm_eps": 1e-05, "rope_theta": 500000.0, "mlp_bias": False, "pretraining_tp": 1,
            "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                             "high_freq_factor": 4.0, "original_max_position_embeddings": 8192},
        }  # fmt: skip
    # huggingface.co/Qwen/Qwen3-32B/blob/main/config.json
    return {
        "architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3", **common,
        "rms_norm_eps": 1e-06, "rope_theta": 1000000.0, "rope_scaling": None,
        "max_window_layers": shape.layers, "sliding_window": None, "use_sliding_window": False,
    }  # fmt: skip


def tensor_shapes(config: dict[str, Any]) -> list[tuple[str, tuple[int, ...]]]:
    """The state-dict names and shapes of LlamaForCausalLM / Qwen3ForCausalLM (q/k norms for Qwen3)."""
    h, hd, inter = config["hidden_size"], config["head_dim"], config["intermediate_size"]
    q, kv = config["num_attention_heads"] * hd, config["num_key_value_heads"] * hd
    names = [("model.embed_tokens.weight", (config["vocab_size"], h))]
    for i in range(config["num_hidden_layers"]):
        p = f"model.layers.{i}"
        names += [
            (f"{p}.input_layernorm.weight", (h,)), (f"{p}.post_attention_layernorm.weight", (h,)),
            (f"{p}.self_attn.q_proj.weight", (q, h)), (f"{p}.self_attn.k_proj.weight", (kv, h)),
            (f"{p}.self_attn.v_proj.weight", (kv, h)), (f"{p}.self_attn.o_proj.weight", (h, q)),
            (f"{p}.mlp.gate_proj.weight", (inter, h)), (f"{p}.mlp.up_proj.weight", (inter, h)),
            (f"{p}.mlp.down_proj.weight", (h, inter)),
        ]  # fmt: skip
        if config["model_type"] == "qwen3":
            names += [(f"{p}.self_attn.q_norm.weight", (hd,)), (f"{p}.self_attn.k_norm.weight", (hd,))]
    names.append(("model.norm.weight", (h,)))
    if not config["tie_word_embeddings"]:
        names.append(("lm_head.weight", (config["vocab_size"], h)))
    return names


class Random:
    """bf16 normal(0, 0.02) tensors: drawn on the GPU, or sliced from one random pool on CPU."""

    def __init__(self, device: str) -> None:
        import torch

        self.torch, self.device = torch, device
        self.generator = torch.Generator(device=device).manual_seed(0)
        self.pool = None
        if device == "cpu":
            self.pool = (torch.randn(POOL_VALUES, generator=self.generator) * 0.02).to(torch.bfloat16)

    def tensor(self, name: str, shape: tuple[int, ...]) -> Any:
        torch = self.torch
        if len(shape) == 1:
            return torch.ones(shape, dtype=torch.bfloat16)
        if self.pool is None:
            drawn = torch.empty(shape, dtype=torch.bfloat16, device=self.device)
            return drawn.normal_(0.0, 0.02, generator=self.generator).cpu()
        count = shape[0] * shape[1]
        start = int(torch.randint(0, POOL_VALUES, (1,), generator=self.generator))
        parts, left = [], count
        while left:
            piece = self.pool[start : start + left]
            parts.append(piece)
            left -= piece.numel()
            start = 0
        return torch.cat(parts).view(shape) if len(parts) > 1 else parts[0].clone().view(shape)


def write_weights(out: Path, config: dict[str, Any], device: str) -> tuple[int, int]:
    """Sharded safetensors + model.safetensors.index.json; returns (parameters, bytes)."""
    from safetensors.torch import save_file

    shapes = tensor_shapes(config)
    total_bytes = sum(2 * _numel(shape) for _, shape in shapes)
    shards = max(1, -(-total_bytes // SHARD_BYTES))
    random, weight_map, shard, size, params = Random(device), {}, {}, 0, 0

    def flush() -> None:
        nonlocal shard, size
        name = f"model-{len(set(weight_map.values())) + 1:05d}-of-{shards:05d}.safetensors"
        save_file(shard, str(out / name), metadata={"format": "pt"})
        weight_map.update(dict.fromkeys(shard, name))
        shard, size = {}, 0

    for name, shape in shapes:
        shard[name] = random.tensor(name, shape)
        size += 2 * _numel(shape)
        params += _numel(shape)
        if size >= SHARD_BYTES:
            flush()
    if shard:
        flush()
    _rename_shards(out, weight_map)
    index = {"metadata": {"total_size": total_bytes}, "weight_map": weight_map}
    (out / "model.safetensors.index.json").write_text(json.dumps(index, indent=2) + "\n")
    return params, total_bytes


def _rename_shards(out: Path, weight_map: dict[str, str]) -> None:
    """The shard count was estimated up front; name the files with the count actually written."""
    files = sorted(set(weight_map.values()))
    for number, old in enumerate(files, 1):
        new = f"model-{number:05d}-of-{len(files):05d}.safetensors"
        if new != old:
            (out / old).rename(out / new)
            for key, value in weight_map.items():
                if value == old:
                    weight_map[key] = new


def _numel(shape: tuple[int, ...]) -> int:
    count = 1
    for dim in shape:
        count *= dim
    return count


def write_tokenizer(out: Path, vocab_size: int) -> None:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {"<pad>": 0, "<unk>": 1, "<eos>": 2, **{f"w{i}": i for i in range(3, vocab_size)}}
    tokenizer = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.decoder = decoders.WordPiece(prefix="##")
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, unk_token="<unk>", pad_token="<pad>", eos_token="<eos>"
    )
    fast.chat_template = (
        "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }} {% endfor %}"
        "{% if add_generation_prompt %}assistant: {% endif %}"
    )
    fast.save_pretrained(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_id", help="a key of deployctl/data/models.yaml, e.g. Qwen/Qwen3-8B")
    parser.add_argument("out", type=Path)
    parser.add_argument("--device", default="auto", help="auto (cuda when present), cuda or cpu")
    parser.add_argument("--no-weights", action="store_true", help="config.json and tokenizer only")
    args = parser.parse_args()

    from deployctl.capability.shapes import known_shapes

    started = time.perf_counter()
    shape = known_shapes()[args.model_id.lower()]
    config = config_for(args.model_id, shape)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    (args.out / "generation_config.json").write_text(
        json.dumps({"eos_token_id": 2, "pad_token_id": 0}) + "\n"
    )
    write_tokenizer(args.out, shape.vocab)
    if args.no_weights:
        print(
            f"{args.model_id}: config.json + tokenizer (no weights) in {time.perf_counter() - started:.1f} s → {args.out}"
        )
        return
    import torch

    device = ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device
    weights_started = time.perf_counter()
    params, size = write_weights(args.out, config, device)
    took = time.perf_counter() - weights_started
    print(
        f"{args.model_id}: {params / 1e9:.3f} B params, {size / 1e9:.1f} GB bf16 drawn on {device} and written "
        f"in {took:.1f} s ({size / 1e9 / took:.2f} GB/s); {time.perf_counter() - started:.1f} s in all → {args.out}"
    )


if __name__ == "__main__":
    main()
