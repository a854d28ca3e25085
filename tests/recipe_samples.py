"""The valid recipe that the bad-recipe tests (tests/recipe, tests/hostile) mutate, and the secret-shaped
tokens they plant in it, which no message may echo back.

GOOD's line numbers are part of the contract: the corpus asserts the line a message names (name on 1,
model 2, gpu 3, quantization 4, engine 5). Each token is split so that secret scanners leave this file be.
"""

from __future__ import annotations

GOOD = """\
name: demo
model: Qwen/Qwen3-0.6B
gpu: "H100 SXM"
quantization: fp8
engine: vllm
"""
HF = "hf_" + "AbCdEfGhIjKlMnOpQrStUvWxYz012345"
SK = "sk-" + "proj0123456789abcdefghijklmnop"
NVAPI = "nvapi-" + "0123456789abcdefghijKLMNOP"
GHP = "ghp_" + "0123456789abcdefghijklmnopqrstuvwxyzAB"
SECRETS = (HF, SK, NVAPI, GHP, "s3cr3t-value-123")
