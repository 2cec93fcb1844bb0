"""Write every ``#@save`` block of ``notebooks/`` into the ``d2l_local`` package, one module per chapter.

Usage (from the repository root)::

    python -m booktools.extract            # regenerate d2l_local/
    python -m booktools.extract --check    # exit 1, with a diff summary, when it is stale

The notebook is the source; ``d2l_local`` is its generated copy: ``d2l_local/chNN_name.py`` holds the
saved code of ``notebooks/NN_name.ipynb`` (so a traceback or a diff names the chapter) and
``d2l_local/__init__.py`` imports every chapter's public names in reading order, so that
``import d2l_local as d2l; d2l.Seq2SeqEncoder`` works. The rules:

* **A saved cell** is a code cell whose first line is ``#@save``. The whole cell, minus that line,
  is saved.
* **A saved statement**: a *top-level* statement whose first line ends with ``#@save`` (for example
  ``def bleu(pred_seq, label_seq, k):  #@save``) is saved alone; the rest of the cell is not. The
  marker may also end the first decorator line of a decorated definition. A trailing marker
  anywhere else (an indented line, the middle of a statement) is an error, and so is anything that
  looks like a marker but is not exactly ``#@save`` (``#@SAVE``, ``# @save``): it would be skipped.
* **Redefining a name**: a name (function, class or assigned variable) may be saved once. A later
  block that deliberately replaces it says so on its marker line: ``#@save redefines=name1,name2``
  (works for both forms). Redefining without saying so, saying so about a name that was never saved
  before, or binding a saved name of the same chapter with a saved import, is an error.
  ``d2l.name`` then means the latest definition; inside the chapter that defined the replaced name,
  saved code must call it as ``d2l.name`` too (a bare name there would keep calling the old one).
* **Imports**: top-level ``import``/``from ... import`` statements of saved code are lifted out of
  their blocks, deduplicated, merged and sorted, and written once at the top of the chapter's module.
* **Other chapters**: saved code refers to names of other chapters as ``d2l.name`` (each module does
  ``import d2l_local as d2l``); names of its own chapter are used bare. ``__all__`` of a module lists
  its public names (not those starting with ``_``); the package's ``__all__`` lists them all.
* **Reading order**: chapters in file-name order (``NN_name.ipynb``), cells in notebook order.
* Saved code must be plain Python: no IPython magics (``%...``), shell escapes (``!...``) or
  ``get_ipython()``. Every module is checked with pyflakes: a name that no saved block or saved
  import of its chapter defines is an error that names the notebook and cell it comes from (and, when
  another chapter defines it, says to write ``d2l.name``).
* The provenance line above each block names the notebook and the cell's id: ids are stable, while a
  cell's position changes whenever a cell is added above it. (Error messages give both: the
  position counts every cell from 0, the Colab badge being cell 0.)

The output is deterministic (byte-identical on every run). Nothing is written unless every chapter
extracts cleanly; each file is replaced atomically (temp file, then ``os.replace``), and generated
modules of chapters that no longer exist are removed (only files that carry the generated banner).
Other files in ``d2l_local/`` (such as bundled data) are never touched.
"""
from __future__ import annotations

import argparse
import ast
import difflib
import json
import os
import re
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from booktools import nb

ROOT = nb.ROOT
NOTEBOOK_DIR = nb.NOTEBOOK_DIR
PACKAGE_DIR = ROOT / "d2l_local"
PACKAGE = "d2l_local"

# ``#@save`` as the whole first line, optionally with ``redefines=a,b``.
HEAD_MARKER = re.compile(r"^#@save(?:\s+redefines=(?P<names>[A-Za-z_]\w*(?:\s*,\s*[A-Za-z_]\w*)*))?\s*$")
# ``#@save`` ending a line of code.
TRAILING_MARKER = re.compile(r"(?P<code>\S.*?)\s*#@save(?:\s+redefines=(?P<names>[A-Za-z_]\w*(?:\s*,\s*[A-Za-z_]\w*)*))?\s*$")
ANY_MARKER = re.compile(r"#@save\b")
LOOSE_MARKER = re.compile(r"#\s*@\s*save\b", re.IGNORECASE)  # what a reader may have meant as a marker
MAGIC_LINE = re.compile(r"^\s*(?:[%!]|\w+\s*=\s*[%!])")
CELL_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # nbformat 4.5's id pattern

REGENERATE = "python -m booktools.extract"
BANNER_MARK = "# GENERATED FILE — DO NOT EDIT."
BANNER = f'''\
# ======================================================================================
{BANNER_MARK}
# Generated from notebooks/ — edit the notebook, then regenerate:  {REGENERATE}
# Every block below comes from a `#@save` cell; its provenance line names the notebook
# and cell. `{REGENERATE} --check` (run by the tests) fails when this file is stale.
# ======================================================================================
'''


class ExtractError(Exception):
    """A notebook breaks one of the rules above; the message names the notebook and cell."""


@dataclass
class Block:
    notebook: str  # path relative to the repository root, POSIX style
    cell_index: int  # 0-based position among all cells of the notebook
    cell_id: str | None
    code: str  # the saved source without imports and markers
    imports: list[ast.stmt]
    defines: list[str]
    redefines: list[str]
    imported: list[str] = field(default_factory=list)  # names the block's saved imports bind

    @property
    def where(self) -> str:
        return f"{self.notebook}, cell {self.cell_index}" + (f" (id {self.cell_id})" if self.cell_id else "")


@dataclass
class Chapter:
    path: Path
    module: str  # e.g. ch07_training
    blocks: list[Block] = field(default_factory=list)

    @property
    def notebook(self) -> str:
        return f"{self.path.parent.name}/{self.path.name}"

    @property
    def public(self) -> list[str]:
        names: list[str] = []
        for block in self.blocks:
            for name in block.defines:
                if not name.startswith("_") and name not in names:
                    names.append(name)
        return names


@dataclass
class Extraction:
    chapters: list[Chapter] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)  # file name in d2l_local/ -> text

    @property
    def blocks(self) -> list[Block]:
        return [block for chapter in self.chapters for block in chapter.blocks]

    @property
    def source(self) -> str:
        """Every generated file, ``__init__.py`` first, then the chapters in reading order."""
        names = ["__init__.py"] + [f"{c.module}.py" for c in self.chapters]
        return "\n".join(self.files[name] for name in names if name in self.files)


# ---------------------------------------------------------------------------------------------
# Reading notebooks


def notebook_paths(notebook_dir: Path) -> list[Path]:
    """The chapters in reading order; an .ipynb file with another name is an error."""
    try:
        return nb.chapter_paths(notebook_dir)
    except nb.NotebookError as error:
        raise ExtractError(str(error)) from None


def read_cells(path: Path) -> list[dict]:
    try:
        notebook = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as error:
        raise ExtractError(f"{_rel(path)}: not UTF-8 ({error}); save the notebook again from Jupyter.") from None
    except json.JSONDecodeError as error:
        raise ExtractError(
            f"{_rel(path)}: not valid JSON (line {error.lineno}, column {error.colno}: {error.msg}); "
            "a merge conflict or a truncated save? Restore it from git or re-save it from Jupyter."
        ) from None
    cells = notebook.get("cells") if isinstance(notebook, dict) else None
    if not isinstance(cells, list):
        raise ExtractError(f"{_rel(path)}: not a notebook (no `cells` list at the top level).")
    return cells


def _check_cell_id(cell: dict, where: str) -> None:
    ident = cell.get("id")
    if ident is not None and not (isinstance(ident, str) and CELL_ID.match(ident)):
        raise ExtractError(
            f"{where}: the cell id {str(ident)[:80]!r} is not a valid notebook cell id (1-64 letters, digits, "
            "`-` or `_`, on one line); it was probably edited by hand. Give the cell a plain id (or delete the "
            "`id` field and let Jupyter make one), then extract again."
        )


def _imported_names(imports: list[ast.stmt]) -> list[str]:
    names = []
    for node in imports:
        for alias in node.names:
            if alias.name != "*":
                names.append(alias.asname or alias.name.split(".")[0])
    return names


def _cell_source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


# ---------------------------------------------------------------------------------------------
# One cell → at most one block


def _parse(code: str, where: str) -> ast.Module:
    try:
        tree = ast.parse(code)
    except SyntaxError as error:
        for number, line in enumerate(code.splitlines(), 1):
            if MAGIC_LINE.match(line):
                raise ExtractError(
                    f"{where}: saved code uses an IPython magic or shell escape on its line {number} "
                    f"(`{line.strip()}`); saved code must be plain Python — move that line to a cell without `#@save`."
                ) from None
        raise ExtractError(
            f"{where}: the saved code does not parse: {error.msg} on its line {error.lineno}"
            + (f" (`{error.text.strip()}`)" if error.text and error.text.strip() else "")
            + "; fix the cell (run it in Jupyter to see the error), then extract again."
        ) from None
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id == "get_ipython":
            raise ExtractError(
                f"{where}: saved code calls get_ipython() (its line {node.lineno}); saved code must run outside "
                "Jupyter too — move that code to a cell without `#@save`."
            )
    return tree


def _names(value: str | None) -> list[str]:
    return [name.strip() for name in value.split(",")] if value else []


def _statement_start(node: ast.stmt) -> int:
    decorators = getattr(node, "decorator_list", [])
    return min([node.lineno] + [d.lineno for d in decorators])


def _defined_names(body: list[ast.stmt]) -> list[str]:
    names: list[str] = []

    def targets(target: ast.expr) -> None:
        if isinstance(target, ast.Name):
            names.append(target.id)
        elif isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                targets(element)
        elif isinstance(target, ast.Starred):
            targets(target.value)

    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.append(node.name)
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                targets(target)
        elif isinstance(node, ast.AnnAssign):
            targets(node.target)
    return names


def _split_imports(lines: list[str], nodes: list[ast.stmt], where: str) -> tuple[list[ast.stmt], str]:
    """Separate the import statements among ``nodes`` (top-level statements of ``lines``) from the rest."""
    imports = [node for node in nodes if isinstance(node, (ast.Import, ast.ImportFrom))]
    import_lines: set[int] = set()
    for node in imports:
        import_lines.update(range(node.lineno, node.end_lineno + 1))
    for node in nodes:
        if node not in imports and import_lines & set(range(_statement_start(node), node.end_lineno + 1)):
            raise ExtractError(f"{where}: put each saved import on a line of its own (its line {node.lineno}).")
    kept = [line for number, line in enumerate(lines, 1) if number not in import_lines]
    return imports, "\n".join(kept).strip("\n")


def block_from_cell(notebook: str, index: int, cell: dict) -> Block | None:
    """The block a cell saves, or None when it saves nothing."""
    if cell.get("cell_type") != "code":
        return None
    source = _cell_source(cell)
    where = nb.where(notebook, index, cell)
    for number, line in enumerate(source.splitlines(), 1):
        variant = LOOSE_MARKER.search(line)
        if variant and not ANY_MARKER.search(line):
            raise ExtractError(
                f"{where}, line {number}: `{variant.group(0).strip()}` looks like a save marker but is not "
                "`#@save` (lower case, no space after `#`), so the code would silently not be saved; "
                "write `#@save`, or reword the comment."
            )
    if not ANY_MARKER.search(source):
        return None
    _check_cell_id(cell, where)
    lines = source.splitlines()
    head = HEAD_MARKER.match(lines[0].strip())

    if head:  # the whole cell is saved
        lines = lines[1:]
        if ANY_MARKER.search("\n".join(lines)):
            raise ExtractError(f"{where}: the cell is saved whole by its first line; remove its other `#@save` markers.")
        tree = _parse("\n".join(lines), where)
        redefines = _names(head.group("names"))
        imports, code = _split_imports(lines, tree.body, where)
        body = tree.body
    else:  # single top-level statements, marked at the end of their first line
        tree = _parse(source, where)
        starts = {}
        for node in tree.body:
            starts[_statement_start(node)] = node
            starts.setdefault(node.lineno, node)
        body, redefines, pieces = [], [], []
        for number, line in enumerate(lines, 1):
            if not ANY_MARKER.search(line):
                continue
            trailing = TRAILING_MARKER.match(line)
            node = starts.get(number)
            if trailing is None or node is None or line[:1].isspace() or node in body:
                raise ExtractError(
                    f"{where}, line {number}: `#@save` must be the first line of the cell (to save the whole cell) "
                    "or end the first line of a top-level statement (to save that statement); "
                    f"found it on `{line.strip()}`."
                )
            body.append(node)
            redefines += _names(trailing.group("names"))
            start = _statement_start(node)
            text = lines[start - 1:node.end_lineno]
            text[number - start] = trailing.group("code")
            pieces.append(text)
        imports = [node for node in body if isinstance(node, (ast.Import, ast.ImportFrom))]
        code = "\n\n".join("\n".join(text) for node, text in zip(body, pieces) if node not in imports)

    if not code and not imports:
        raise ExtractError(f"{where}: `#@save` marks a cell with no code; remove the marker or add the code.")
    return Block(
        notebook=notebook,
        cell_index=index,
        cell_id=nb.cell_id(cell),
        code=code,
        imports=imports,
        defines=_defined_names(body),
        imported=_imported_names(imports),
        redefines=redefines,
    )



# ---------------------------------------------------------------------------------------------
# All notebooks → one module per chapter


def collect_chapters(notebook_dir: Path) -> list[Chapter]:
    chapters: list[Chapter] = []
    saved_in: dict[str, str] = {}  # name → where it was saved
    for path in notebook_paths(notebook_dir):
        chapter = Chapter(path=path, module=nb.module_name(path))
        notebook = chapter.notebook  # e.g. notebooks/04_encoder.ipynb
        imported_here: dict[str, str] = {}
        for index, cell in enumerate(read_cells(path)):
            block = block_from_cell(notebook, index, cell)
            if block is None:
                continue
            for name in block.redefines:
                if name not in saved_in:
                    raise ExtractError(
                        f"{block.where}: says `redefines={name}`, but no earlier `#@save` block defines `{name}`; "
                        "remove it from `redefines=`, or check the spelling."
                    )
                if name not in block.defines:
                    raise ExtractError(
                        f"{block.where}: says `redefines={name}` but does not define `{name}`."
                    )
            for name in block.defines:
                if name in saved_in and name not in block.redefines:
                    raise ExtractError(
                        f"{block.where}: saves `{name}`, which {saved_in[name]} already saves. Rename it, or, if this "
                        f"block deliberately replaces the earlier one, write `#@save redefines={name}` as its marker."
                    )
                saved_in[name] = block.where
            for name in block.imported:
                imported_here.setdefault(name, block.where)
            chapter.blocks.append(block)
        own = {name: b.where for b in chapter.blocks for name in b.defines}
        for name, where in imported_here.items():
            if name in own:
                raise ExtractError(
                    f"{where}: a saved import binds `{name}`, which {own[name]} saves as a definition of the same "
                    f"chapter; one would silently replace the other. Import it under another name "
                    f"(`import ... as other`) or rename the definition."
                )
        chapters.append(chapter)
    _check_stale_bare_names(chapters)
    return chapters


def _check_stale_bare_names(chapters: list[Chapter]) -> None:
    """Saved code that uses one of its chapter's names bare, when a later chapter redefines that name,
    would keep using the old definition (each chapter is its own module): it must say ``d2l.name``."""
    redefined_later: dict[str, str] = {}
    for chapter in reversed(chapters):
        own = {name for block in chapter.blocks for name in block.defines}
        for block in chapter.blocks:
            if not block.code:
                continue
            for node in ast.walk(ast.parse(block.code)):
                if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) \
                        and node.id in own and node.id in redefined_later:
                    raise ExtractError(
                        f"{block.where}: uses `{node.id}` bare, but {redefined_later[node.id]} redefines it; each "
                        f"chapter is its own module, so this would keep using this chapter's old definition. "
                        f"Write `d2l.{node.id}` here to get the latest one."
                    )
        for block in chapter.blocks:
            for name in block.redefines:
                redefined_later.setdefault(name, block.where)


def collect_blocks(notebook_dir: Path) -> list[Block]:
    return [block for chapter in collect_chapters(notebook_dir) for block in chapter.blocks]


def render_imports(blocks: list[Block]) -> list[str]:
    """Deduplicated, merged, sorted import lines: ``import x`` first, then ``from x import y``."""
    plain: set[tuple[str, str | None]] = set()
    from_imports: dict[tuple[int, str], set[tuple[str, str | None]]] = {}
    for block in blocks:
        for node in block.imports:
            if isinstance(node, ast.Import):
                for alias in node.names:
                    plain.add((alias.name, alias.asname))
            else:
                key = (node.level, node.module or "")
                for alias in node.names:
                    from_imports.setdefault(key, set()).add((alias.name, alias.asname))

    def alias_text(name: str, asname: str | None) -> str:
        return f"{name} as {asname}" if asname and asname != name else name

    future = from_imports.pop((0, "__future__"), None)
    lines = []
    if future:
        lines.append("from __future__ import " + ", ".join(sorted(alias_text(*a) for a in future)))
    lines += [f"import {alias_text(name, asname)}" for name, asname in sorted(plain, key=lambda a: (a[0], a[1] or ""))]
    for (level, module), names in sorted(from_imports.items(), key=lambda item: ("." * item[0][0] + item[0][1])):
        lines.append(f"from {'.' * level}{module} import " + ", ".join(sorted(alias_text(*a) for a in names)))
    return lines


def _all_lines(names: list[str]) -> str:
    if not names:
        return "__all__ = []\n"
    return "__all__ = [\n" + "".join(f"    {name!r},\n" for name in names) + "]\n"


def _docstring_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"""', "'''")


def render_module(chapter: Chapter) -> str:
    title = _docstring_text(chapter_title(chapter.path))
    parts = [BANNER + f'"""{title}: the saved code of {chapter.notebook} (generated)."""\n']
    imports = render_imports(chapter.blocks)
    parts.append("\n".join(imports + [f"import {PACKAGE} as d2l  # other chapters' names: d2l.name"]) + "\n")
    parts.append(_all_lines(chapter.public))
    for block in chapter.blocks:
        if not block.code:
            continue
        cell = f"cell id {block.cell_id}" if block.cell_id else f"cell {block.cell_index}"
        parts.append(f"\n# ---- {block.notebook} · {cell} ----\n{block.code}\n")
    return "\n".join(parts)


def render_init(chapters: list[Chapter]) -> str:
    parts = [BANNER + '"""d2l_local: the code of the book, one module per chapter, in reading order (generated).\n\n'
             "``import d2l_local as d2l`` gives every chapter's public names; where a later chapter redefines a\n"
             'name, ``d2l.name`` is the later definition."""\n']
    if chapters:
        parts.append("\n".join(f"from .{c.module} import *  # noqa: F401,F403  {c.notebook}" for c in chapters) + "\n")
        parts.append("from . import (\n" + "".join(f"    {c.module},\n" for c in chapters) + ")\n")
        parts.append("# Every chapter's public names, in reading order (each once).\n"
                     "__all__ = list(dict.fromkeys(name for chapter in (\n"
                     + "".join(f"    {c.module},\n" for c in chapters)
                     + ") for name in chapter.__all__))\n")
    else:
        parts.append("__all__ = []\n")
    return "\n".join(parts)


def chapter_title(path: Path) -> str:
    """The chapter's `# ...` heading, or the notebook's stem."""
    for cell in read_cells(path):
        if cell.get("cell_type") == "markdown":
            for line in _cell_source(cell).splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return path.stem


def _block_at(source: str, line: int, module_file: str, blocks: list[Block] | None = None) -> str:
    """Where the block that holds ``line`` of a generated module comes from (``notebook, cell N (id …)``)."""
    where = f"d2l_local/{module_file} (module header)"
    with_code = [block for block in (blocks or []) if block.code]
    seen = 0
    for number, text in enumerate(source.splitlines(), 1):
        if number > line:
            break
        if text.startswith("# ---- ") and text.endswith(" ----"):
            if seen < len(with_code):
                where = with_code[seen].where
            else:
                notebook, _, cell = text[7:-5].partition(" · ")
                where = f"{notebook}, {cell}"
            seen += 1
    return where


def lint(source: str, module_file: str = "__init__.py", elsewhere: dict[str, str] | None = None,
         blocks: list[Block] | None = None) -> None:
    """Fail on names that no saved code of the module defines (pyflakes), naming the block they come from."""
    try:
        from pyflakes import checker, messages
    except ImportError:  # pragma: no cover - pyflakes is a dev dependency
        raise ExtractError("pyflakes is not installed; run `make venv` (or `pip install -e .[dev]`).") from None
    found = checker.Checker(ast.parse(source), filename=str(PACKAGE_DIR / module_file))
    problems = []
    for message in sorted(found.messages, key=lambda m: m.lineno):
        if isinstance(message, (messages.UndefinedName, messages.UndefinedLocal, messages.UndefinedExport)):
            text = f"{_block_at(source, message.lineno, module_file, blocks)}: {message.message % message.message_args}"
            name = message.message_args[0] if message.message_args else None
            if elsewhere and name in elsewhere:
                text += f" ({elsewhere[name]} defines it: write `d2l.{name}`)"
            problems.append(text)
    if problems:
        raise ExtractError(
            "saved code uses names that no `#@save` block or saved import of its chapter defines (the notebook may "
            "define them in a cell without `#@save`: save that cell, or add the import to a saved cell; a name "
            "from another chapter is written `d2l.name`):\n  " + "\n  ".join(problems)
        )


def extract(notebook_dir: Path = NOTEBOOK_DIR) -> Extraction:
    chapters = collect_chapters(notebook_dir)
    defined_in = {name: c.notebook for c in chapters for b in c.blocks for name in b.defines}
    files: dict[str, str] = {}
    for chapter in chapters:
        if not chapter.blocks:
            continue
        module_file = f"{chapter.module}.py"
        source = render_module(chapter)
        try:
            compile(source, str(PACKAGE_DIR / module_file), "exec")
        except SyntaxError as error:  # e.g. a `return` that only parses inside a function
            raise ExtractError(f"{_block_at(source, error.lineno or 0, module_file, chapter.blocks)}: saved code "
                               f"does not compile: {error.msg}") from None
        lint(source, module_file, defined_in, chapter.blocks)
        files[module_file] = source
    with_code = [c for c in chapters if f"{c.module}.py" in files]
    files["__init__.py"] = render_init(with_code)
    return Extraction(chapters=with_code, files=files)


def generated_files(package_dir: Path) -> dict[str, str]:
    """The files of ``package_dir`` that this tool generated (they carry the banner's second line)."""
    found = {}
    if Path(package_dir).is_dir():
        for path in sorted(Path(package_dir).glob("*.py")):
            text = path.read_text(encoding="utf-8", errors="replace")
            if text.split("\n", 2)[1:2] == [BANNER_MARK]:
                found[path.name] = text
    return found


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` by ``text`` in one step; on any failure the old file stays as it was."""
    folder = path.parent
    if folder.exists() and not folder.is_dir():
        raise ExtractError(
            f"{_rel(folder)} is a file, not a folder, so {path.name} cannot be written into it; move that file away, "
            f"restore the folder from git (`git checkout -- {_rel(folder)}`) and run the extractor again. "
            "Nothing was changed."
        )
    if not folder.is_dir():
        raise ExtractError(f"{_rel(folder)}/ does not exist; restore it from git (`git checkout -- {_rel(folder)}`). "
                           "Nothing was changed.")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as error:
        raise ExtractError(
            f"cannot write into {_rel(folder)}/ ({error.strerror}); make it writable (check its permissions) and "
            "run the extractor again. Nothing was changed."
        ) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, path.stat().st_mode & 0o777 if path.exists() else 0o644)
        os.replace(tmp, path)
    except OSError as error:
        raise ExtractError(f"cannot replace {_rel(path)} ({error.strerror}); nothing was changed.") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def diff_summary(old: str, new: str, path: str, limit: int = 60) -> str:
    diff = list(difflib.unified_diff(old.splitlines(), new.splitlines(),
                                     f"{path} (on disk)", f"{path} (from notebooks)", lineterm="", n=1))
    added = sum(1 for l in diff if l.startswith("+") and not l.startswith("+++"))
    removed = sum(1 for l in diff if l.startswith("-") and not l.startswith("---"))
    shown = diff[:limit]
    if len(diff) > limit:
        shown.append(f"... ({len(diff) - limit} more diff lines)")
    return f"{added} line(s) would be added and {removed} removed:\n" + "\n".join(shown)


def _rel(path: Path) -> str:
    return nb.rel(path)


def plan(result: Extraction, package: Path) -> tuple[list[str], list[str]]:
    """(files to write, stale generated modules to remove) to make ``package`` match ``result``."""
    on_disk = generated_files(package)
    init = package / "__init__.py"
    if "__init__.py" not in on_disk and init.exists():
        on_disk["__init__.py"] = init.read_text(encoding="utf-8", errors="replace")
    changed = [name for name, text in result.files.items() if on_disk.get(name) != text]
    stale = sorted(set(on_disk) - set(result.files))
    # __init__.py last: until it is written, the old package still imports its old modules
    return sorted(changed, key=lambda name: (name == "__init__.py", name)), stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate d2l_local from the notebooks' #@save cells.")
    parser.add_argument("--check", action="store_true", help="do not write; exit 1 when d2l_local is stale")
    parser.add_argument("--notebooks", type=Path, default=NOTEBOOK_DIR, help=argparse.SUPPRESS)
    parser.add_argument("--package", type=Path, default=PACKAGE_DIR, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        result = extract(args.notebooks)
    except ExtractError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    package = args.package
    target = _rel(package)
    changed, stale = plan(result, package)
    count = f"{len(result.chapters)} chapter modules, {len(result.blocks)} saved blocks"
    if args.check:
        if not changed and not stale:
            print(f"{target}/ is up to date ({count}).")
            return 0
        on_disk = generated_files(package)
        report = []
        for name in changed:
            old = on_disk.get(name)
            if old is None and (package / name).exists():
                old = (package / name).read_text(encoding="utf-8", errors="replace")
            report.append(diff_summary(old or "", result.files[name], f"{target}/{name}"))
        report += [f"{target}/{name} is the generated module of a chapter that no longer exists; it would be removed."
                   for name in stale]
        print(f"{target}/ is stale: it differs from what the notebooks' #@save cells say.\n" + "\n".join(report)
              + f"\nFix: run `{REGENERATE}` (or `make d2l`) and commit the result; never edit {target}/ by hand.",
              file=sys.stderr)
        return 1
    if not changed and not stale:
        print(f"{target}/ unchanged ({count}).")
        return 0
    try:
        for name in changed:
            write_atomically(package / name, result.files[name])
        for name in stale:
            (package / name).unlink()
    except ExtractError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"error: cannot remove a stale module ({error}); nothing else is wrong: remove it by hand.",
              file=sys.stderr)
        return 2
    print(f"wrote {target}/ ({count}; {len(changed)} file(s) written"
          + (f", {len(stale)} stale module(s) removed" if stale else "") + ").")
    return 0


if __name__ == "__main__":
    sys.exit(main())
