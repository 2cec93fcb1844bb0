"""Smoke test of bench/compare.py, a table printer over d2l_local (chapter 16's recipe).

No corpus, no timing: every model the book already has is built at toy size, trained for a few steps
through d2l.train_seq2seq and scored on a made-up test set; the table must have one row per model
with a finite BLEU in [0, 100] and a positive training speed. The recipe itself (batches, schedules,
precision, resume) is tested with chapter 16 (tests/chapters/test_ch16_training_recipe.py).
"""
from __future__ import annotations

import importlib.util
import math
import random
import sys
from pathlib import Path

import pytest
import torch

import d2l_local as d2l

ROOT = Path(__file__).resolve().parents[2]
CPU = torch.device("cpu")
RESERVED = ["<pad>", "<bos>", "<eos>"]


@pytest.fixture(scope="module")
def compare():
    spec = importlib.util.spec_from_file_location("bench_compare", ROOT / "bench" / "compare.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is created
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[spec.name]
        raise
    return module


def toy_splits(num_train=240, num_test=24, seed=0):
    """A made-up 'translation': each source word has its own target word, the order is reversed and a
    final '.' is kept; sentences of 1 to 6 words, so batches of several lengths exist."""
    rng = random.Random(seed)
    src_words = [f"w{i}" for i in range(12)]
    table = {w: f"m{i}" for i, w in enumerate(src_words)}

    def pairs(n):
        src, tgt = [], []
        for _ in range(n):
            words = [rng.choice(src_words) for _ in range(rng.randint(1, 6))]
            src.append(words + ["."])
            tgt.append([table[w] for w in reversed(words)] + ["."])
        return src, tgt

    train, test = pairs(num_train), pairs(num_test)
    return {"train": train, "valid": ([], []), "test": test}


@pytest.fixture(scope="module")
def toy_data(compare):
    splits = toy_splits()
    src_vocab = d2l.Vocab(splits["train"][0], reserved_tokens=RESERVED)
    tgt_vocab = d2l.Vocab(splits["train"][1], reserved_tokens=RESERVED)
    return compare.data_from_splits(splits, src_vocab, tgt_vocab, num_steps=8, description="toy")


def tiny_specs(compare):
    specs = compare.default_specs()
    overrides = ["gru.embed_size=8", "gru.num_hiddens=16", "bahdanau.embed_size=8", "bahdanau.num_hiddens=16",
                 "transformer.num_hiddens=16", "transformer.ffn_num_hiddens=32", "transformer.num_heads=2",
                 "transformer.num_layers=1", "all.batch_tokens=64"]
    return compare.apply_overrides(specs, overrides)


def test_toy_data_keeps_every_reference(toy_data):
    X, X_len, Y, Y_len = toy_data.arrays
    assert X.shape == (240, 8) and Y.shape == (240, 8)
    assert len(toy_data.test_sources) == len(toy_data.test_references) <= 24
    assert sum(map(len, toy_data.test_references)) == 24  # several references per duplicate sentence


def test_compare_has_no_training_loop_of_its_own():
    """The command only configures and calls the book's code: no optimizer, no backward pass."""
    source = (ROOT / "bench" / "compare.py").read_text()
    for forbidden in ("backward(", "optimizer", "zero_grad", "autocast", "GradScaler", ".step("):
        assert forbidden not in source, forbidden
    assert "d2l.train_seq2seq(" in source and "d2l.TokenBatches(" in source


def test_each_available_model_trains_and_is_scored(compare, toy_data):
    missing_eval = [n for n in compare.EVAL_REQUIRES if not hasattr(d2l, n)]
    if missing_eval:
        pytest.skip(f"d2l_local has no {', '.join(missing_eval)} yet")
    models = [m for m in compare.MODEL_NAMES if not compare.missing_names(m)]
    specs = tiny_specs(compare)
    rows = []
    for name in models:
        # budget: a minute (never reached); max_steps makes the work independent of the machine
        rows.append(compare.run_one(specs[name], toy_data, 60.0, CPU, precision="fp32", max_steps=3,
                                    threads=1, log=None))
    table = compare.format_table(rows, caption="toy")
    body = [line for line in table.splitlines() if line.startswith("| ") and not line.startswith("| model")]
    assert [line.split("|")[1].strip() for line in body] == models
    for row in rows:
        assert row["steps"] == 3 and row["tokens"] > 0 and row["precision"] == "fp32"
        assert math.isfinite(row["bleu"]) and 0.0 <= row["bleu"] <= 100.0
        assert row["tokens_per_sec"] > 0 and row["params"] > 0
        assert math.isfinite(row["loss"]) and row["threads"] == "1: 100%"


def test_the_gru_source_stays_padded_and_the_transformer_source_is_cut(compare, toy_data, monkeypatch):
    made = []
    real = d2l.TokenBatches

    def spy(*args, **kwargs):
        made.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(d2l, "TokenBatches", spy)
    specs = tiny_specs(compare)
    for name in ("gru", "transformer"):
        compare.run_one(specs[name], toy_data, 60.0, CPU, precision="fp32", max_steps=1, threads=1, log=None)
    assert [m["trim_source"] for m in made] == [False, True]
    assert all(m["bucket"] and m["seed"] == 0 for m in made)


def test_beam_search_columns(compare, toy_data):
    spec = tiny_specs(compare)["gru"]
    row = compare.run_one(spec, toy_data, 60.0, CPU, precision="fp32", max_steps=2, beam_size=2, threads=1,
                          log=None)
    assert 0.0 <= row["beam_bleu"] <= 100.0 and row["beam_seconds"] >= 0
    table = compare.format_table([row], beam_size=2)
    assert "beam 2" in table.splitlines()[0] and len(table.splitlines()) == 3


def test_an_epoch_budget_is_reproducible(compare, toy_data):
    """--epochs: a fixed number of steps, so two runs with the same seed give the same model."""
    spec = tiny_specs(compare)["transformer"]
    rows = [compare.run_one(spec, toy_data, 60.0, CPU, epochs=0.5, precision="fp32", threads=1, log=None)
            for _ in range(2)]
    batches = d2l.TokenBatches(toy_data.arrays, spec.train.batch_tokens, trim_source=True)
    assert rows[0]["steps"] == rows[1]["steps"] == round(0.5 * len(batches))
    assert rows[0]["loss"] == rows[1]["loss"] and rows[0]["bleu"] == rows[1]["bleu"]


def test_overrides_reject_unknown_settings(compare):
    specs = compare.default_specs()
    compare.apply_overrides(specs, ["transformer.lr=5e-4", "all.label_smoothing=0.0", "transformer.tie=True"])
    assert specs["transformer"].train.lr == 5e-4 and specs["transformer"].train.tie is True
    assert all(s.train.label_smoothing == 0.0 for s in specs.values())
    with pytest.raises(SystemExit):
        compare.apply_overrides(specs, ["gru.no_such_setting=1"])
    with pytest.raises(SystemExit):
        compare.apply_overrides(specs, ["nomodel.lr=1"])


def test_process_clock_needs_one_thread(compare):
    with pytest.raises(SystemExit, match="--threads 1"):
        compare.main(["--clock", "process", "--threads", "2", "--models", "gru"])
