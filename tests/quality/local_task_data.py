"""Builds the shipped offline lm-eval data (deployctl/data/lm_eval/*.jsonl) from the shipped corpus.

Every prose line of deployctl/data/calibration.txt with at least 12 words becomes one example: its
first 60 % of words are the context; the cloze task asks which of four endings belongs (the true one
and the endings of three other lines), the next-word task asks for the word that follows. Choices and
distractors are picked deterministically, so the files are a pure function of the corpus; the test
`test_the_shipped_task_data_is_built_from_the_shipped_corpus` keeps them so.

Regenerate after editing the corpus: `python -m tests.quality.local_task_data`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "deployctl" / "data"
MIN_WORDS = 12
CONTEXT_SHARE = 0.6
CHOICES = 4
PROSE = re.compile(r"^[A-Z][^{}()\[\]=<>`$|]*[.!?]$")


def eligible_lines(corpus: str) -> list[list[str]]:
    return [
        line.split() for line in corpus.splitlines() if PROSE.match(line) and len(line.split()) >= MIN_WORDS
    ]


def build(corpus: str) -> dict[str, list[dict]]:
    lines = eligible_lines(corpus)
    cloze, next_word = [], []
    for i, words in enumerate(lines):
        cut = round(len(words) * CONTEXT_SHARE)
        context, ending = " ".join(words[:cut]), " ".join(words[cut:])
        others = [lines[(i + step) % len(lines)] for step in (37, 101, 173)]
        distractors = [" ".join(w[round(len(w) * CONTEXT_SHARE) :]) for w in others]
        gold = i % CHOICES
        choices = distractors[:gold] + [ending] + distractors[gold:]
        cloze.append({"id": i, "context": context, "choices": choices, "gold": gold})
        next_word.append({"id": i, "context": context, "next_word": re.sub(r"[^\w']", "", words[cut])})
    return {"cloze.jsonl": cloze, "next_word.jsonl": next_word}


def render(records: list[dict]) -> str:
    return "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records)


def main() -> None:
    corpus = (DATA / "calibration.txt").read_text(encoding="utf-8")
    for name, records in build(corpus).items():
        (DATA / "lm_eval" / name).write_text(render(records), encoding="utf-8")
        print(f"{name}: {len(records)} examples")


if __name__ == "__main__":
    main()
