"""The one place where the book's settings live."""

# The repository readers install d2l_local from on Colab (stamped into every notebook by
# `python -m booktools.stamp`; a test fails when a notebook disagrees with it).
REPO_URL = "https://github.com/d2l-seq2seq-zh/seq2seq-attention-book"
