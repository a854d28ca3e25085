"""Prompts of a set length, fixed or seeded-random, without a tokenizer.

Lengths are counted in words (~1 token each for common English words on Qwen/Llama tokenizers); the
report carries the server's own token counts (`usage.prompt_tokens`), so figures stay exact.
"""

from __future__ import annotations

import random

_TEXT = (
    "the model serves requests on a GPU and every token it writes reads all of its weights from memory "
    "so decoding one sequence is bound by bandwidth while batching many sequences turns the same reads "
    "into useful work quantization shrinks the weights and the cache so more tokens fit and each step is "
    "faster when the kernels run natively on the hardware"
)
_WORDS = tuple(_TEXT.split())
FIXED_SENTENCE = "Write a long story about a lighthouse keeper who finds a map."


def make_prompts(count: int, input_len: int, *, kind: str = "random", seed: int = 0) -> list[str]:
    """`count` prompts of about `input_len` words: `fixed` repeats one text, `random` draws words."""
    if kind == "fixed":
        words = (FIXED_SENTENCE.split() * (input_len // len(FIXED_SENTENCE.split()) + 1))[:input_len]
        return [" ".join(words)] * count
    if kind != "random":
        raise ValueError(f"unknown prompt kind {kind!r}: use fixed or random")
    rng = random.Random(seed)
    return [" ".join(rng.choice(_WORDS) for _ in range(input_len)) for _ in range(count)]
