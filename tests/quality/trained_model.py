"""A tiny Qwen3/Llama model that has learned the shipped corpus, trained on CPU and cached by its inputs.

Random-weight tiny models predict a near-flat distribution, so every quality figure measured on them is
noise. This trains the same architecture (deployctl.quantize.tiny: hidden 128, head_dim 32,
intermediate 256, 2 layers, the corpus's byte-level BPE) on the whole shipped corpus
(deployctl/data/calibration.txt, ~9.6k tokens). It plays a pretrained model that has seen the text it
is later measured on, as real models have seen wikitext: the quality report's held-out lines are held
out from *calibration*, not from pretraining. ~0.4 M parameters cannot generalise from 9k tokens (trained
on 90 % of the lines, held-out perplexity bottoms out near 220 of a uniform 1000 after 100 steps, then
rises as it memorises: measured on this machine, 2026-11-30), so it learns the corpus by heart instead:
- perplexity on the quality report's evaluation lines is far below the uniform baseline (vocabulary size);
- its distributions are peaked, so quantization error shows and ranks by precision (fp8 closer to bf16
  than 4-bit weights);
- the shipped lm-eval tasks, built from the same corpus, score far above chance, and a damaged copy of
  the weights scores near chance.

The result is cached under `cache_root` by a key over this file, the architecture module, the corpus,
the seed and the torch version: edit any of them and the next run trains again. Training takes about a
minute on 2 cores (`STEPS` × batch `BATCH` × `SEQ_LEN` tokens).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

STEPS = 300
BATCH = 16
SEQ_LEN = 64
LEARNING_RATE = 3e-3
WEIGHT_DECAY = 0.1
ARCHITECTURE = ("HIDDEN", "HEAD_DIM", "HEADS", "KV_HEADS", "INTERMEDIATE", "LAYERS", "VOCAB", "TOKENIZER_VOCAB",
                "MAX_POSITIONS", "SPECIAL_TOKENS", "CHAT_TEMPLATE")  # fmt: skip


def training_key(arch: str, seed: int) -> str:
    """16 hex digits over everything the trained weights depend on: this file, the architecture's
    constants (deployctl.quantize.tiny), the corpus, the seed and torch's version."""
    import torch

    from deployctl.quantize import tiny

    shape = [getattr(tiny, name) for name in ARCHITECTURE]
    digest = hashlib.sha256(Path(__file__).read_bytes())
    digest.update(tiny.calibration_corpus_text().encode())
    digest.update(json.dumps([arch, seed, torch.__version__, shape]).encode())
    return digest.hexdigest()[:16]


def trained_tiny_model(arch: str, cache_root: Path, *, seed: int = 0) -> Path:
    """The trained model folder for (arch, seed): from the cache, or trained now and published atomically."""
    from filelock import FileLock

    folder = Path(cache_root) / f"trained-tiny-{arch}-{training_key(arch, seed)}"
    folder.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(folder) + ".lock"):  # another test session training the same key: wait for it
        if (folder / "training.json").is_file():
            return folder
        shutil.rmtree(folder, ignore_errors=True)  # an incomplete folder (killed before training.json)
        work = Path(tempfile.mkdtemp(prefix=f".{folder.name}.tmp-", dir=folder.parent))
        try:
            train_into(arch, work, seed=seed)
            os.replace(work, folder)
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
    return folder


def train_into(arch: str, out: Path, *, seed: int) -> dict[str, Any]:
    """Generate the random model in `out`, train it in float32, save it back in bf16 with a summary."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from deployctl.quantize.calibration import split_texts
    from deployctl.quantize.tiny import calibration_corpus_text, generate_tiny_model

    started = time.perf_counter()
    generate_tiny_model(arch, out, seed=seed)  # type: ignore[arg-type]
    tokenizer = AutoTokenizer.from_pretrained(out)
    lines = [t for t in calibration_corpus_text().splitlines() if t.strip()]
    train_ids = _token_stream(tokenizer, lines)
    held_ids = _token_stream(tokenizer, split_texts(lines).held_out)  # what the quality report measures
    torch.manual_seed(seed)
    threads = torch.get_num_threads()
    # One thread: the model is too small to gain from two, and on a busy 2-core machine two threads
    # spin against each other (300 steps: ~45 s with one, over 10 min with two, measured 2026-11-30).
    torch.set_num_threads(1)
    try:
        model = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32)
        before = _mean_nll(model, held_ids)
        _train(model, train_ids, seed=seed)
        after = _mean_nll(model, held_ids)
    finally:
        torch.set_num_threads(threads)
    uniform = math.log(len(tokenizer))
    model.to(torch.bfloat16).save_pretrained(out, safe_serialization=True)
    summary = {
        "arch": arch,
        "seed": seed,
        "steps": STEPS,
        "train_tokens": len(train_ids),
        "report_tokens": len(held_ids),
        "report_perplexity_before": math.exp(before),
        "report_perplexity_after": math.exp(after),
        "uniform_perplexity": math.exp(uniform),
        "seconds": round(time.perf_counter() - started, 1),
    }
    (out / "training.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary


def _token_stream(tokenizer: Any, texts: list[str]) -> list[int]:
    """The texts joined by the end-of-text token, as calibration packs them (calibration.pack_tokens)."""
    return tokenizer(tokenizer.eos_token.join(texts), add_special_tokens=False)["input_ids"]


def _train(model: Any, ids: list[int], *, seed: int) -> None:
    import torch

    data = torch.tensor(ids, dtype=torch.long)
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE, weight_decay=WEIGHT_DECAY)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=LEARNING_RATE, total_steps=STEPS, pct_start=0.1
    )
    model.train()
    for _ in range(STEPS):
        starts = torch.randint(0, len(data) - SEQ_LEN - 1, (BATCH,), generator=generator)
        batch = torch.stack([data[s : s + SEQ_LEN] for s in starts.tolist()])
        loss = model(batch, labels=batch).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
    model.eval()


def _mean_nll(model: Any, ids: list[int]) -> float:
    """Mean next-token negative log-likelihood over consecutive SEQ_LEN windows."""
    import torch

    windows = torch.tensor(ids[: len(ids) // SEQ_LEN * SEQ_LEN]).view(-1, SEQ_LEN)
    with torch.no_grad():
        model.eval()
        return float(model(windows, labels=windows).loss)
