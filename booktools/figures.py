"""The book's diagrams travel inside each notebook, as data URIs generated from ``images/``.

A chapter refers to its diagrams as ``![说明](../images/name.svg)``. That relative path breaks as
soon as a notebook leaves the repository: a Colab "save a copy in Drive", a downloaded ``.ipynb``
opened offline, a notebook mailed to a student. So ``python -m booktools.stamp`` (``make stamp``)
writes every such image into the markdown itself, as a ``data:`` URI followed by a marker that names
its source::

    ![说明](data:image/svg+xml;base64,PHN2Zy…)<!-- figure: name.svg -->

Why not nbformat's cell attachments (``attachment:name.svg``): Colab does not render attachments at
all (googlecolab/colabtools#3836), and JupyterLab does not render SVG attachments (its sanitizer
drops them, jupyterlab/jupyterlab#10464). A data URI in an image is what Colab itself writes when a
reader inserts a picture, and JupyterLab, VS Code and the classic notebook show it too. The marker is
an HTML comment: no renderer shows it.

The SVG files in ``images/`` stay the source of truth: editing ``images/name.svg`` makes
``stamp --check`` (and the tests) fail until the notebooks are stamped again, and a reference to an
image that ``images/`` lacks is an error. Authors keep writing ``../images/name.svg`` for a new figure;
stamping converts it. :func:`unembedded_source` turns a stamped cell back into the path form (the
HTML edition and the prose checks read that form).
"""
from __future__ import annotations

import base64
import re
from pathlib import Path

from booktools import nb as nbtools

MIME = {".svg": "image/svg+xml", ".png": "image/png"}
_NAME = r"[A-Za-z0-9_.-]+\.(?:svg|png)"
_ALT = r"!\[(?:[^\[\]]|\[[^\]]*\])*\]\("  # the alt text may hold one level of brackets: output[-1]
# ![alt](../images/name.svg "title"), or the stamped ![alt](data:…;base64,…)<!-- figure: name.svg -->
FIGURE = re.compile(
    rf'(?P<head>{_ALT})'
    rf'(?:\.\./images/(?P<path>{_NAME})|data:(?P<mime>image/[\w.+-]+);base64,(?P<data>[A-Za-z0-9+/=]*))'
    r'(?P<tail>(?:\s+"[^"]*")?\))'
    rf'(?:<!-- figure: (?P<mark>{_NAME}) -->)?')
# What the first design wrote (nbformat attachments); stamping converts it.
ATTACHMENT = re.compile(rf'(?P<head>{_ALT})attachment:(?P<name>{_NAME})(?P<tail>(?:\s+"[^"]*")?\))')


def _name(match) -> str | None:
    """The images/ file a match stands for (None for a data URI without our marker: a pasted picture)."""
    return match.group("path") or match.group("mark")


def data_uri(path: Path) -> str:
    return f"data:{MIME[path.suffix]};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


def referenced(source: str) -> list[str]:
    """The ``images/`` figures a markdown source shows, by path or stamped (in order, without repeats)."""
    names: list[str] = []
    for match in FIGURE.finditer(source):
        name = _name(match)
        if name and name not in names:
            names.append(name)
    return names


def unembedded_source(source: str) -> str:
    """The source with every stamped figure back in its ``../images/name`` form."""
    return FIGURE.sub(lambda m: f"{m.group('head')}../images/{_name(m)}{m.group('tail')}" if _name(m) else m.group(0),
                      source)


def embedded_source(source: str, images_dir: Path = nbtools.IMAGES_DIR) -> str:
    """The source with every ``images/`` figure written in as a data URI of the file as it is now."""
    def embed_one(match):
        name = _name(match)
        if not name:
            return match.group(0)
        return f"{match.group('head')}{data_uri(images_dir / name)}{match.group('tail')}<!-- figure: {name} -->"

    def attached(match):  # the first design's attachment of one of our figures (a pasted picture stays)
        name = match.group("name")
        return f"{match.group('head')}../images/{name}{match.group('tail')}" if (images_dir / name).is_file() \
            else match.group(0)

    return FIGURE.sub(embed_one, unembedded_source(ATTACHMENT.sub(attached, source)))


def _missing(source: str, images_dir: Path) -> list[str]:
    return [name for name in referenced(source) if not (images_dir / name).is_file()]


def embed(notebook, images_dir: Path = nbtools.IMAGES_DIR) -> bool:
    """Write every ``images/`` figure that a markdown cell shows into it; True when anything changed.

    Raises FileNotFoundError (naming the cell) for a reference to an image that ``images/`` lacks."""
    changed = False
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "markdown":
            continue
        missing = _missing(cell.source, images_dir)
        if missing:
            raise FileNotFoundError(f"cell {index}: refers to {', '.join(missing)}, which images/ does not have; "
                                    "draw it into images/ (or fix the name)")
        source = embedded_source(cell.source, images_dir)
        attachments = {name: bundle for name, bundle in cell.get("attachments", {}).items()
                       if f"attachment:{name}" in source}  # drop the first design's copies of our figures
        if source != cell.source or attachments != cell.get("attachments", attachments):
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
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "markdown":
            continue
        for name in _missing(cell.source, images_dir):
            found.append(f"cell {index}: refers to {name}, which images/ does not have")
        for match in ATTACHMENT.finditer(cell.source):
            if (images_dir / match.group("name")).is_file():
                found.append(f"cell {index}: {match.group('name')} is an attachment, which Colab does not show: "
                             "run `make stamp`")
        for match in FIGURE.finditer(cell.source):
            name = _name(match)
            if not name or not (images_dir / name).is_file():
                continue
            if match.group("path"):
                found.append(f"cell {index}: {name} is not embedded (a copy of the notebook would lose it): "
                             "run `make stamp`")
            elif f"data:{match.group('mime')};base64,{match.group('data')}" != data_uri(images_dir / name):
                found.append(f"cell {index}: the embedded {name} differs from images/{name} (stale): run `make stamp`")
    return found
