"""A random-weight model with a published shape (deployctl/data/models.yaml), for runs where no weights
can be downloaded: bf16 safetensors + a word-level tokenizer covering the whole vocabulary ("w3 w4 …"),
so prompts of known token counts can be written by hand.

    python benchmarks/gpu/make_model.py Qwen/Qwen3-8B /tmp/models/q8b [--device cuda]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_id", help="a key of deployctl/data/models.yaml, e.g. Qwen/Qwen3-8B")
    parser.add_argument("out", type=Path)
    parser.add_argument("--device", default="cuda")
    args = parser.parse_args()

    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast, Qwen3Config, Qwen3ForCausalLM

    from deployctl.capability.shapes import known_shapes

    shape = known_shapes()[args.model_id.lower()]
    config = Qwen3Config(
        vocab_size=shape.vocab, hidden_size=shape.hidden, num_hidden_layers=shape.layers,
        num_attention_heads=shape.heads, num_key_value_heads=shape.kv_heads, head_dim=shape.head_dim,
        intermediate_size=shape.intermediate, max_position_embeddings=shape.max_position, rope_theta=1e6,
        tie_word_embeddings=shape.tied, torch_dtype="bfloat16", architectures=["Qwen3ForCausalLM"],
        eos_token_id=2, pad_token_id=0,
    )  # fmt: skip
    started = time.perf_counter()
    torch.manual_seed(0)
    with torch.device(args.device):
        model = Qwen3ForCausalLM(config).to(torch.bfloat16)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.normal_(std=0.02)
    model.save_pretrained(args.out)

    vocab = {"<pad>": 0, "<unk>": 1, "<eos>": 2, **{f"w{i}": i for i in range(3, shape.vocab)}}
    tokenizer = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.decoder = decoders.WordPiece(prefix="##")
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, unk_token="<unk>", pad_token="<pad>", eos_token="<eos>")
    fast.chat_template = (
        "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }} {% endfor %}"
        "{% if add_generation_prompt %}assistant: {% endif %}"
    )
    fast.save_pretrained(args.out)
    params = sum(p.numel() for p in model.parameters())
    print(f"{args.model_id}: {params / 1e9:.3f} B params in {time.perf_counter() - started:.1f} s → {args.out}")


if __name__ == "__main__":
    main()
