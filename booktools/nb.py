"""The notebook plumbing every book tool shares.

Where the book lives, which notebooks are chapters and in what order, how a cell is named in a
message, the cell tags the tools understand, and the one way a tool writes a notebook (atomically,
keeping the file's mode). ``extract``, ``build``, ``stamp``, ``student``, ``html``, ``stability``
and ``assignments`` import these instead of keeping their own copies.
"""
from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = ROOT / "notebooks"
IMAGES_DIR = ROOT / "images"
BUILD_DIR = ROOT / "_build"

# A chapter is `NN_ascii_name.ipynb`: two digits give the reading order.
CHAPTER_NAME = re.compile(r"^(\d{2})_[a-z0-9_]+\.ipynb$")

# The cell tags the tools read (and nothing else does).
SETUP_TAG = "setup"                        # the first code cell: installs/imports d2l_local (stamp)
BADGE_TAG = "colab-badge"                  # the first cell: the "Open in Colab" badge (stamp)
EXERCISE_TAG = "exercise"                  # a checked exercise's scaffold or check cell (student, assignments)
SOLUTION_TAG = "solution"                  # a cell that only the teachers' edition has (student)
IGNORE_OUTPUT_TAG = "nbval-ignore-output"  # output varies by machine/run; nbval runs but does not compare it
IGNORE_STDERR_TAG = "nbval-ignore-stderr"  # expected stderr (build, nbval)
SKIP_TAG = "nbval-skip"                    # nbval does not run the cell
HIDE_INPUT_TAG = "hide-input"              # the HTML edition folds the cell's code (Jupyter Book)
KNOWN_TAGS = frozenset({SETUP_TAG, BADGE_TAG, EXERCISE_TAG, SOLUTION_TAG, IGNORE_OUTPUT_TAG, IGNORE_STDERR_TAG,
                        SKIP_TAG, HIDE_INPUT_TAG})


class NotebookError(Exception):
    """A notebook a tool cannot use; the message names the file (and cell) and says what to do."""


def rel(path: Path | str) -> str:
    """``path`` relative to the repository root, POSIX style (the path itself when outside it)."""
    try:
        return Path(path).resolve().relative_to(ROOT).as_posix()
    except ValueError:
        return str(path)


def chapter_paths(notebook_dir: Path = NOTEBOOK_DIR) -> list[Path]:
    """The chapters in reading order; an .ipynb file with another name, or two chapters with one
    number, is an error."""
    paths = []
    for path in sorted(Path(notebook_dir).glob("*.ipynb")):
        if not CHAPTER_NAME.match(path.name):
            raise NotebookError(
                f"{rel(path)}: notebook names must look like `NN_ascii_name.ipynb` (two digits give the "
                "reading order, then lowercase ASCII letters, digits and `_`); rename the file."
            )
        paths.append(path)
    numbers: dict[str, Path] = {}
    for path in paths:
        number = path.name[:2]
        if number in numbers:
            raise NotebookError(f"{rel(path)} and {rel(numbers[number])} share the number {number}; "
                                "give each chapter its own.")
        numbers[number] = path
    return paths


def chapter_number(path: Path | str) -> int:
    """``07`` of ``notebooks/07_training.ipynb``, as an int."""
    match = CHAPTER_NAME.match(Path(path).name)
    if not match:
        raise NotebookError(f"{path}: not a chapter notebook (`NN_ascii_name.ipynb`)")
    return int(match.group(1))


def module_name(path: Path | str) -> str:
    """The generated module of a chapter: ``notebooks/07_training.ipynb`` -> ``ch07_training``."""
    chapter_number(path)  # validates the name
    return "ch" + Path(path).stem


def cell_id(cell) -> str | None:
    """The cell's id, or None. A hand-edited id may hold any text; only its first line is used."""
    value = cell.get("id")
    if not value:
        return None
    first = str(value).splitlines()[0].strip() if str(value).strip() else ""
    return first or None


def where(path: Path | str, index: int, cell=None) -> str:
    """How a message names a cell: ``notebooks/07_training.ipynb, cell 9 (id ch07-08)``.

    ``index`` is the 0-based position among all cells (the badge is cell 0), which is what Jupyter's
    "cell N" and nbval's "Cell N" mean once you count from 0."""
    ident = cell_id(cell) if cell is not None else None
    return f"{rel(path)}, cell {index}" + (f" (id {ident})" if ident else "")


def tags(cell) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def source(cell) -> str:
    value = cell.get("source", "")
    return "".join(value) if isinstance(value, list) else str(value)


def read(path: Path | str):
    """A notebook (nbformat v4), or a NotebookError that says what is wrong and what to do."""
    path = Path(path)
    try:
        return nbformat.read(path, as_version=4)
    except FileNotFoundError:
        raise NotebookError(f"{rel(path)}: no such notebook; check the path "
                            "(chapters are notebooks/NN_name.ipynb).") from None
    except UnicodeDecodeError as error:
        raise NotebookError(f"{rel(path)}: not UTF-8 ({error}); save the notebook again from Jupyter.") from None
    except Exception as error:  # JSONDecodeError, nbformat's validation errors, a truncated file
        raise NotebookError(f"{rel(path)}: not a readable notebook ({type(error).__name__}: {error}); "
                            "a merge conflict or a truncated save? Restore it from git or re-save it "
                            "from Jupyter.") from None


def _default_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def write_atomically(path: Path | str, content, *, mode: int | None = None,
                     unchanged_since: os.stat_result | None = None) -> bool:
    """Replace ``path`` by ``content`` (a notebook node, text or bytes) in one step.

    The file keeps its mode (a new file gets ``mode``, or what ``open`` would give); on any failure
    the old file stays as it was and no temporary file is left. With ``unchanged_since`` (a
    ``stat`` taken when the notebook was read) nothing is written if the file changed since then,
    and False is returned, so that a tool never overwrites an edit made while it worked."""
    path = Path(path)
    folder = path.parent
    if not folder.is_dir():
        raise NotebookError(f"{rel(folder)}/ does not exist or is not a folder; nothing was written.")
    if mode is None:
        mode = path.stat().st_mode & 0o777 if path.exists() else _default_mode()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        if isinstance(content, bytes):
            handle = os.fdopen(fd, "wb")
        else:
            handle = os.fdopen(fd, "w", encoding="utf-8", newline="\n")
        with handle:
            if isinstance(content, (str, bytes)):
                handle.write(content)
            else:
                nbformat.write(content, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)  # mkstemp makes 0600
        if unchanged_since is not None:
            now = path.stat()
            if (now.st_mtime_ns, now.st_size, now.st_ino) != (
                    unchanged_since.st_mtime_ns, unchanged_since.st_size, unchanged_since.st_ino):
                return False
        os.replace(tmp, path)
        return True
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
