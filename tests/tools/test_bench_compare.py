"""Smoke test of bench/compare.py: its train + evaluate machinery on a tiny synthetic split.

No corpus, no timing: every model the book already has is built at toy size, trained for a few steps
and scored on a made-up test set; the table must have one row per model with a finite BLEU in
[0, 100] and a positive training speed.
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
    assert toy_data.src.shape == (240, 8) and toy_data.tgt.shape == (240, 8)
    assert len(toy_data.test_sources) == len(toy_data.test_references) <= 24
    assert sum(map(len, toy_data.test_references)) == 24  # several references per duplicate sentence


@pytest.mark.parametrize("bucket", [True, False])
def test_batches_cover_every_pair_once_within_the_token_budget(compare, toy_data, bucket):
    batches = compare.make_batches(toy_data, 64, random.Random(0), bucket=bucket)
    rows = sorted(i for batch in batches for i in batch)
    assert rows == list(range(len(toy_data.tgt_len)))
    lengths = toy_data.tgt_len.tolist()
    for batch in batches:
        if bucket:
            assert len(batch) * max(lengths[i] for i in batch) <= 64 or len(batch) == 1
        else:
            assert len(batch) <= 64 // toy_data.num_steps
    if bucket:  # similar lengths together: far less padding than random batches
        padded = sum(len(b) * max(lengths[i] for i in b) for b in batches)
        assert padded < 1.2 * sum(lengths)


def test_gather_batch_cuts_padding_but_keeps_the_gru_source_shape(compare, toy_data):
    rows = list(range(10))
    cfg = compare.TrainConfig(lr=1e-3)
    (X, X_len, Y, Y_len), num_tokens = compare.gather_batch(toy_data, rows, cfg, CPU)
    assert X.shape[1] == int(X_len.max()) and Y.shape[1] == int(Y_len.max())
    assert num_tokens == int(Y_len.sum())
    assert torch.equal(Y, toy_data.tgt[:10, :Y.shape[1]])
    cfg.pad_source_to_num_steps = True
    (X, *_), _ = compare.gather_batch(toy_data, rows, cfg, CPU)
    assert X.shape == (10, toy_data.num_steps)


def test_learning_rate_warms_up_then_decays_to_the_end(compare):
    cfg = compare.TrainConfig(lr=1e-3, warmup=0.1, final_lr_frac=0.0)
    lrs = [compare.lr_at(cfg, p / 100) for p in range(101)]
    peak = max(range(101), key=lambda i: lrs[i])
    assert peak == 10 and lrs[peak] == pytest.approx(1e-3)
    assert all(a <= b for a, b in zip(lrs[:peak], lrs[1:peak + 1]))
    assert all(a >= b for a, b in zip(lrs[peak:], lrs[peak + 1:]))
    assert lrs[-1] == pytest.approx(0.0, abs=1e-12) and lrs[0] > 0


def test_each_available_model_trains_and_is_scored(compare, toy_data):
    missing_eval = [n for n in compare.EVAL_REQUIRES if not hasattr(d2l, n)]
    if missing_eval:
        pytest.skip(f"d2l_local has no {', '.join(missing_eval)} yet (chapter 9)")
    models = [m for m in compare.MODEL_NAMES if not compare.missing_names(m)]
    specs = tiny_specs(compare)
    rows = []
    for name in models:
        # budget: a minute (never reached); max_steps makes the work independent of the machine
        rows.append(compare.run_one(specs[name], toy_data, 60.0, CPU, precision="fp32", max_steps=3,
                                    log=None))
    table = compare.format_table(rows, caption="toy")
    body = [line for line in table.splitlines() if line.startswith("| ") and not line.startswith("| model")]
    assert [line.split("|")[1].strip() for line in body] == models
    for row in rows:
        assert row["steps"] == 3 and row["tokens"] > 0
        assert math.isfinite(row["bleu"]) and 0.0 <= row["bleu"] <= 100.0
        assert row["tokens_per_sec"] > 0 and row["params"] > 0
        assert math.isfinite(row["loss"])


def test_beam_search_columns(compare, toy_data):
    if not hasattr(d2l, "predict_seq2seq_beam"):
        pytest.skip("d2l_local has no predict_seq2seq_beam yet (chapter 9)")
    spec = tiny_specs(compare)["gru"]
    row = compare.run_one(spec, toy_data, 60.0, CPU, precision="fp32", max_steps=2, beam_size=2, log=None)
    assert 0.0 <= row["beam_bleu"] <= 100.0 and row["beam_seconds"] >= 0
    table = compare.format_table([row], beam_size=2)
    assert "beam 2" in table.splitlines()[0] and len(table.splitlines()) == 3


def test_token_budget_is_reproducible(compare, toy_data):
    """--epochs: a fixed amount of work, so two runs with the same seed give the same model."""
    spec = tiny_specs(compare)["gru"]
    losses = []
    for _ in range(2):
        torch.manual_seed(0)
        net = compare.build_model(spec, toy_data.src_vocab, toy_data.tgt_vocab)
        compare.init_weights(net, spec.train.init)
        result = compare.train_model(net, toy_data, spec.train, float("inf"), CPU, epochs=0.5, seed=0)
        losses.append((result["steps"], result["loss"]))
    assert losses[0] == losses[1]
    assert losses[0][0] > 0


def test_overrides_reject_unknown_settings(compare):
    specs = compare.default_specs()
    compare.apply_overrides(specs, ["transformer.lr=5e-4", "all.label_smoothing=0.0"])
    assert specs["transformer"].train.lr == 5e-4
    assert all(s.train.label_smoothing == 0.0 for s in specs.values())
    with pytest.raises(SystemExit):
        compare.apply_overrides(specs, ["gru.no_such_setting=1"])
    with pytest.raises(SystemExit):
        compare.apply_overrides(specs, ["nomodel.lr=1"])
