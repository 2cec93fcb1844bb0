"""The one place where the book's settings live."""

# The repository readers install d2l_local from on Colab (stamped into every notebook by
# `python -m booktools.stamp`; a test fails when a notebook disagrees with it).
REPO_URL = "https://github.com/d2l-seq2seq-zh/seq2seq-attention-book"


# The branch the "Open in Colab" badges (and the HTML edition's launch buttons) point at.
REPO_BRANCH = "main"
# Where the chapters live inside the repository.
NOTEBOOK_DIR = "notebooks"


def github_repo(repo_url: str | None = None) -> str:
    """``owner/name`` of a ``https://github.com/owner/name`` URL (default: ``REPO_URL``)."""
    import re

    url = REPO_URL if repo_url is None else repo_url
    match = re.fullmatch(r"https://github\.com/([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+?)(?:\.git)?/?", url)
    if not match:
        raise ValueError(
            f"REPO_URL must look like https://github.com/OWNER/REPO (Colab opens notebooks from GitHub), "
            f"got {url!r}: fix it in booktools/config.py, then run `make stamp`."
        )
    return f"{match.group(1)}/{match.group(2)}"


def _notebook_file(notebook_name) -> str:
    from pathlib import PurePath

    name = PurePath(str(notebook_name)).name
    if not name.endswith(".ipynb"):
        name += ".ipynb"  # a chapter's stem, e.g. "04_encoder"
    if name == ".ipynb":
        raise ValueError(f"not a notebook name: {notebook_name!r} (expected e.g. '04_encoder.ipynb')")
    return name


def colab_url(notebook_name, repo_url: str | None = None, branch: str | None = None) -> str:
    """The URL that opens one chapter in Colab, straight from GitHub.

    ``notebook_name`` is the notebook's file name, a path to it, or its stem
    (``"04_encoder.ipynb"``, ``Path("notebooks/04_encoder.ipynb")``, ``"04_encoder"``).
    """
    return (f"https://colab.research.google.com/github/{github_repo(repo_url)}/blob/"
            f"{branch or REPO_BRANCH}/{NOTEBOOK_DIR}/{_notebook_file(notebook_name)}")


def github_url(notebook_name, repo_url: str | None = None, branch: str | None = None) -> str:
    """The URL of one chapter on GitHub (same arguments as ``colab_url``)."""
    return (f"https://github.com/{github_repo(repo_url)}/blob/"
            f"{branch or REPO_BRANCH}/{NOTEBOOK_DIR}/{_notebook_file(notebook_name)}")


# Points of the checked exercises in the nbgrader assignments (`python -m booktools.assignments`,
# `make assignments`). Every check is worth ASSIGNMENT_DEFAULT_POINTS unless ASSIGNMENT_POINTS names
# it: the key is the check's name as its check cell calls it (`ok = checks.masked_softmax(...)` ->
# "masked_softmax"), or "chNN.name" where two chapters have a check of the same name. A key that
# matches no check (e.g. after a check was renamed) or more than one is an error.
ASSIGNMENT_DEFAULT_POINTS = 1
ASSIGNMENT_POINTS = {
    "output_state_decoder": 3,  # a whole decoder class: init_state, forward and reorder_state
    "multihead_attention": 2,   # projections, heads, masks and the output projection in one function
    "bahdanau_context": 2,      # scores, masked softmax and the weighted sum, by hand
}
