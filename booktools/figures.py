"""The book's diagrams travel inside each notebook, as cell attachments generated from ``images/``.

A chapter refers to its diagrams as ``![说明](../images/name.svg)``. That relative path breaks as
soon as a notebook leaves the repository: a Colab "save a copy in Drive", a downloaded ``.ipynb``
opened offline, a notebook mailed to a student. So ``python -m booktools.stamp`` (``make stamp``)
embeds every such image into its markdown cell as a notebook *attachment* (the nbformat feature that
JupyterLab, Colab and VS Code use for pasted images) and rewrites the reference to
``attachment:name.svg``. The SVG files in ``images/`` stay the source of truth: editing
``images/name.svg`` makes ``stamp --check`` (and the tests) fail until the notebooks are stamped
again, and a reference to an image that ``images/`` lacks is an error.

Authors keep writing ``../images/name.svg`` for a new figure; stamping converts it. Attachments
whose names are not files of ``images/`` (a picture a reader pasted) are left alone.
"""
from __future__ import annotations

import base64
import re
from pathlib import Path

from booktools import nb as nbtools

MIME = {".svg": "image/svg+xml", ".png": "image/png"}
# ![alt](../images/name.svg) or ![alt](attachment:name.svg), optionally with a "title"
IMAGE_REF = re.compile(r'(?P<head>!\[[^\]]*\]\()(?:\.\./images/|attachment:)(?P<name>[A-Za-z0-9_.-]+\.(?:svg|png))'
                       r'(?P<tail>(?:\s+"[^"]*")?\))')


def referenced(source: str, ours: set[str] | None = None) -> list[str]:
    """The ``images/`` figures a markdown source refers to (in order, without repeats): every
    ``../images/name``, and ``attachment:name`` when ``name`` is one of ``ours`` (a file of images/)."""
    names: list[str] = []
    for match in IMAGE_REF.finditer(source):
        name = match.group("name")
        by_path = "../images/" in match.group(0)
        if (by_path or (ours is not None and name in ours)) and name not in names:
            names.append(name)
    return names


def _ours(images_dir: Path) -> set[str]:
    return {p.name for p in images_dir.glob("*") if p.suffix in MIME}


def encoded(path: Path) -> dict:
    """The attachment mime bundle of an image file (base64, as JupyterLab stores pasted images)."""
    return {MIME[path.suffix]: base64.b64encode(path.read_bytes()).decode("ascii")}


def embedded_source(source: str) -> str:
    return IMAGE_REF.sub(lambda m: f"{m.group('head')}attachment:{m.group('name')}{m.group('tail')}"
                         if "../images/" in m.group(0) else m.group(0), source)


def embed(notebook, images_dir: Path = nbtools.IMAGES_DIR) -> bool:
    """Embed every ``images/`` figure that a markdown cell refers to; True when anything changed.

    Raises FileNotFoundError (naming the cell) for a reference to an image that ``images/`` lacks."""
    changed = False
    ours = _ours(images_dir)
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "markdown":
            continue
        names = referenced(cell.source, ours)
        missing = [name for name in names if name not in ours]
        if missing:
            raise FileNotFoundError(f"cell {index}: refers to {', '.join(missing)}, which images/ does not have; "
                                    "draw it into images/ (or fix the name)")
        source = embedded_source(cell.source)
        attachments = dict(cell.get("attachments", {}))
        for name in list(attachments):
            if name in ours and name not in names:  # a figure the cell no longer shows
                del attachments[name]
        for name in names:
            attachments[name] = encoded(images_dir / name)
        if source != cell.source or attachments != cell.get("attachments", {}):
            cell.source = source
            if attachments:
                cell["attachments"] = attachments
            else:
                cell.pop("attachments", None)
            changed = True
    return changed


def problems(notebook, images_dir: Path = nbtools.IMAGES_DIR) -> list[str]:
    """What is not embedded, or embedded but stale (differs from ``images/``)."""
    found = []
    ours = _ours(images_dir)
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "markdown":
            continue
        attachments = cell.get("attachments", {})
        for name in referenced(cell.source, ours):
            if name not in ours:
                found.append(f"cell {index}: refers to {name}, which images/ does not have")
            elif f"attachment:{name}" not in cell.source or name not in attachments:
                found.append(f"cell {index}: {name} is not embedded (a copy of the notebook would lose it): "
                             "run `make stamp`")
            elif attachments[name] != encoded(images_dir / name):
                found.append(f"cell {index}: the embedded {name} differs from images/{name} (stale): run `make stamp`")
    return found
