"""bench/translate.py: its arguments and its table (the full run is the benchmark itself, not a test)."""
from __future__ import annotations

import argparse
import types

import pytest

from bench import translate


def test_arguments_and_defaults():
    args = translate.parse_args([])
    assert args.budget == 300.0 and args.clock == "process" and args.threads == 1
    assert args.directions == ["en-zh", "zh-en", "fra-eng"]
    assert translate.parse_args(["--threads", "auto", "--directions", "zh-en"]).threads == "auto"
    with pytest.raises(SystemExit):
        translate.parse_args(["--directions", "en-de"])


def test_the_table_says_which_targets_were_reached():
    result = types.SimpleNamespace(steps=1200, epochs_seen=2.5, seconds=300.2, tokens_per_sec=1500.0)
    rows = [dict(direction="en-zh", bleu=36.1, metric="sacre_bleu tokenize='zh'", result=result, decode=9.5,
                 vocab="3 / 4"),
            dict(direction="fra-eng (en→fr)", bleu=12.0, metric="book", result=result, decode=3.0, vocab="5 / 6")]
    table = translate.format_table(rows, argparse.Namespace(clock="process")).splitlines()
    assert table[0].startswith("| direction | BLEU | target | reached")
    assert "| en-zh | 36.10 | 35 | yes |" in table[2] and "300 (process)" in table[2]
    assert "| fra-eng (en→fr) | 12.00 | 40 | no |" in table[3]
    assert set(translate.TARGETS) == {"en-zh", "zh-en", "fra-eng"}
