"""Fixtures of the chapter tests."""
from __future__ import annotations

import pytest

import d2l_local as d2l


@pytest.fixture(scope="module")
def corpus():
    """The whole fra-eng corpus, preprocessed and tokenized, read once per test module (guard the test with
    chapter_support.needs_corpus: tests never download)."""
    return d2l.tokenize_nmt(d2l.preprocess_nmt(d2l.read_data_nmt()))
