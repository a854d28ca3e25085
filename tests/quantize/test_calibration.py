"""Calibration text: the builtin corpus, .txt/.jsonl files, hf: datasets offline, the held-out split."""

from __future__ import annotations

import json

import pytest

from deployctl.errors import QuantizeError
from deployctl.quantize.calibration import dataset_fingerprint, load_texts, split_texts
from deployctl.recipe.model import CalibrationSpec


def test_the_builtin_corpus_has_a_few_hundred_varied_lines():
    texts = load_texts("builtin")
    assert len(texts) >= 200
    assert any(t.startswith("def ") for t in texts) and any('"' in t for t in texts)


def test_held_out_texts_never_calibrate():
    split = split_texts([f"text {i}" for i in range(30)])
    assert len(split.held_out) == 3
    assert not set(split.held_out) & set(split.calibration)
    assert len(split.calibration) + len(split.held_out) == 30


def test_duplicate_texts_are_split_by_position():
    split = split_texts(["same"] * 10)
    assert (len(split.calibration), len(split.held_out)) == (9, 1)


def test_a_txt_file_gives_one_text_per_non_empty_line(tmp_path):
    file = tmp_path / "c.txt"
    file.write_text("first\n\n  second  \nthird\n")
    assert load_texts(str(file)) == ["first", "second", "third"]


def test_a_jsonl_file_gives_its_text_fields(tmp_path):
    file = tmp_path / "c.jsonl"
    file.write_text("\n".join(json.dumps({"text": t, "id": i}) for i, t in enumerate(["a b", "c d"])))
    assert load_texts(str(file)) == ["a b", "c d"]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("c.jsonl", '{"text": "ok"}\n{"body": "no text"}\n', "c.jsonl:2"),
        ("c.jsonl", '{"text": 3}\n{"text": "x"}\n', "not a string"),
        ("c.csv", "a,b\n", "neither .txt nor .jsonl"),
        ("c.txt", "only one line\n", "need at least 2"),
        ("missing.txt", None, "does not exist"),
    ],
    ids=[
        "a jsonl line without text names its line",
        "a non-string text is refused",
        "another extension is refused",
        "one text is too few",
        "a missing file is named",
    ],
)
def test_bad_calibration_files_are_clear_errors(tmp_path, name, content, message):
    file = tmp_path / name
    if content is not None:
        file.write_text(content)
    with pytest.raises(QuantizeError, match=message):
        load_texts(str(file))


def test_an_hf_dataset_offline_that_is_not_cached_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path))
    with pytest.raises(QuantizeError) as info:
        load_texts("hf:org/not-cached-anywhere")
    assert "HF_HUB_OFFLINE" in info.value.message
    assert info.value.field == "quantization.calibration.dataset"


def test_the_fingerprint_follows_the_file_content(tmp_path):
    file = tmp_path / "c.txt"
    file.write_text("a\nb\n")
    before = dataset_fingerprint(CalibrationSpec(dataset=str(file)))
    file.write_text("a\nc\n")
    assert dataset_fingerprint(CalibrationSpec(dataset=str(file))) != before
