"""Tiny generated models: real architectures, deterministic, complete, servable shapes."""

from __future__ import annotations

import hashlib
import json

import pytest

from deployctl.quantize.tiny import HEAD_DIM, HIDDEN, INTERMEDIATE, generate_tiny_model


def digest(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.mark.parametrize("arch", ["qwen3", "llama"])
def test_the_model_has_the_shapes_awq_and_vllm_cpu_need(tiny_models, arch):
    config = json.loads((tiny_models[arch] / "config.json").read_text())
    assert config["architectures"] == [f"{'Qwen3' if arch == 'qwen3' else 'Llama'}ForCausalLM"]
    assert (config["hidden_size"], config["head_dim"], config["intermediate_size"]) == (
        HIDDEN,
        HEAD_DIM,
        INTERMEDIATE,
    )
    assert (
        config["hidden_size"] % 128 == 0
        and config["intermediate_size"] % 128 == 0
        and config["head_dim"] >= 32
    )
    assert config["dtype"] == "bfloat16"


@pytest.mark.parametrize("arch", ["qwen3", "llama"])
def test_the_folder_holds_weights_tokenizer_and_generation_config(tiny_models, arch):
    names = {p.name for p in tiny_models[arch].iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
            "generation_config.json"} <= names  # fmt: skip
    assert not [n for n in names if n.startswith(".")]


def test_the_same_seed_gives_the_same_bytes(tmp_path, tiny_models):
    again = generate_tiny_model("qwen3", tmp_path / "again", seed=0)
    assert digest(again) == digest(tiny_models["qwen3"])


def test_another_seed_gives_other_weights(tmp_path, tiny_models):
    other = generate_tiny_model("qwen3", tmp_path / "other", seed=1)
    assert digest(other)["model.safetensors"] != digest(tiny_models["qwen3"])["model.safetensors"]


def test_the_chat_template_renders_and_the_tokenizer_round_trips(tiny_models):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_models["llama"])
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": "Say hello in one short sentence."}],
        tokenize=False,
        add_generation_prompt=True,
    )
    assert prompt.endswith("<|im_start|>assistant\n")
    ids = tokenizer(prompt)["input_ids"]
    assert tokenizer.decode(ids) == prompt
    assert 500 <= len(tokenizer) <= 1024


def test_the_model_generates_with_transformers(tiny_models):
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_models["qwen3"])
    output = model.generate(torch.tensor([[5, 6, 7]]), max_new_tokens=4, do_sample=False)
    assert output.shape == (1, 7)
