"""Write every ``#@save`` block of ``notebooks/`` into the ``d2l_local`` package.

Usage (from the repository root)::

    python -m booktools.extract            # regenerate d2l_local/__init__.py
    python -m booktools.extract --check    # exit 1, with a diff summary, when it is stale

The notebook is the source; ``d2l_local`` is its generated copy. The rules:

* **A saved cell** is a code cell whose first line is ``#@save``. The whole cell, minus that line,
  is saved.
* **A saved statement**: a *top-level* statement whose first line ends with ``#@save`` (for example
  ``def bleu(pred_seq, label_seq, k):  #@save``) is saved alone; the rest of the cell is not. The
  marker may also end the first decorator line of a decorated definition. A trailing marker
  anywhere else (an indented line, the middle of a statement) is an error.
* **Redefining a name**: a name (function, class or assigned variable) may be saved once. A later
  block that deliberately replaces it says so on its marker line: ``#@save redefines=name1,name2``
  (works for both forms). Redefining without saying so, or saying so about a name that was never
  saved before, is an error.
* **Imports**: top-level ``import``/``from ... import`` statements of saved code are lifted out of
  their blocks, deduplicated, merged and sorted, and written once at the top of the module.
* **Reading order**: notebooks in file-name order (``NN_name.ipynb``), cells in notebook order.
* Saved code may refer to earlier chapters as ``d2l.name``: the module binds ``d2l`` to itself.
* Saved code must be plain Python: no IPython magics (``%...``), shell escapes (``!...``) or
  ``get_ipython()``. The generated module is checked with pyflakes: a name that no saved block or
  saved import defines is an error that names the notebook and cell it comes from.

The output is deterministic (byte-identical on every run) and is written atomically (temp file,
then ``os.replace``), so an error never leaves a half-written package behind.
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

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = ROOT / "notebooks"
OUTPUT = ROOT / "d2l_local" / "__init__.py"

NOTEBOOK_NAME = re.compile(r"^(\d{2})_[a-z0-9_]+\.ipynb$")
# ``#@save`` as the whole first line, optionally with ``redefines=a,b``.
HEAD_MARKER = re.compile(r"^#@save(?:\s+redefines=(?P<names>[A-Za-z_]\w*(?:\s*,\s*[A-Za-z_]\w*)*))?\s*$")
# ``#@save`` ending a line of code.
TRAILING_MARKER = re.compile(r"(?P<code>\S.*?)\s*#@save(?:\s+redefines=(?P<names>[A-Za-z_]\w*(?:\s*,\s*[A-Za-z_]\w*)*))?\s*$")
ANY_MARKER = re.compile(r"#\s*@save\b")
MAGIC_LINE = re.compile(r"^\s*(?:[%!]|\w+\s*=\s*[%!])")

REGENERATE = "python -m booktools.extract"
BANNER = f'''\
# ======================================================================================
# GENERATED FILE — DO NOT EDIT.
# Generated from notebooks/ — edit the notebook, then regenerate:  {REGENERATE}
# Every block below comes from a `#@save` cell; its provenance line names the notebook
# and cell. `{REGENERATE} --check` (run by the tests) fails when this file is stale.
# ======================================================================================
"""d2l_local: the code of the book, in reading order (generated from its notebooks)."""
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

    @property
    def where(self) -> str:
        return f"{self.notebook}, cell {self.cell_index}" + (f" (id {self.cell_id})" if self.cell_id else "")


@dataclass
class Extraction:
    blocks: list[Block] = field(default_factory=list)
    source: str = ""


# ---------------------------------------------------------------------------------------------
# Reading notebooks


def notebook_paths(notebook_dir: Path) -> list[Path]:
    """The chapters in reading order; an .ipynb file with another name is an error."""
    paths = []
    for path in sorted(notebook_dir.glob("*.ipynb")):
        if not NOTEBOOK_NAME.match(path.name):
            raise ExtractError(
                f"{_rel(path)}: notebook names must look like `NN_ascii_name.ipynb` (two digits give the "
                "reading order, then lowercase ASCII letters, digits and `_`); rename the file."
            )
        paths.append(path)
    numbers = {}
    for path in paths:
        number = path.name[:2]
        if number in numbers:
            raise ExtractError(
                f"{_rel(path)} and {_rel(numbers[number])} share the number {number}; give each chapter its own."
            )
        numbers[number] = path
    return paths


def read_cells(path: Path) -> list[dict]:
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as error:
        raise ExtractError(f"{_rel(path)}: not UTF-8 ({error}); save the notebook again from Jupyter.") from None
    except json.JSONDecodeError as error:
        raise ExtractError(
            f"{_rel(path)}: not valid JSON (line {error.lineno}, column {error.colno}: {error.msg}); "
            "a merge conflict or a truncated save? Restore it from git or re-save it from Jupyter."
        ) from None
    cells = nb.get("cells") if isinstance(nb, dict) else None
    if not isinstance(cells, list):
        raise ExtractError(f"{_rel(path)}: not a notebook (no `cells` list at the top level).")
    return cells


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
    if not ANY_MARKER.search(source):
        return None
    where = f"{notebook}, cell {index}" + (f" (id {cell['id']})" if cell.get("id") else "")
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
        cell_id=cell.get("id"),
        code=code,
        imports=imports,
        defines=_defined_names(body),
        redefines=redefines,
    )


# ---------------------------------------------------------------------------------------------
# All notebooks → one module


def collect_blocks(notebook_dir: Path) -> list[Block]:
    blocks: list[Block] = []
    saved_in: dict[str, str] = {}  # name → where it was saved
    for path in notebook_paths(notebook_dir):
        notebook = f"{notebook_dir.name}/{path.name}"  # e.g. notebooks/04_encoder.ipynb
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
            blocks.append(block)
    return blocks


def render_imports(blocks: list[Block]) -> list[str]:
    """Deduplicated, merged, sorted import lines: ``import x`` first, then ``from x import y``.

    ``import sys`` is always there: the module binds ``d2l = sys.modules[__name__]``.
    """
    plain: set[tuple[str, str | None]] = {("sys", None)}
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


def render(blocks: list[Block]) -> str:
    parts = [BANNER]
    parts.append("\n".join(render_imports(blocks)) + "\n")
    parts.append("# Saved code refers to earlier chapters as `d2l.name`, as the notebooks do.\nd2l = sys.modules[__name__]\n")
    for block in blocks:
        if not block.code:
            continue
        provenance = f"# ---- {block.notebook} · cell {block.cell_index}" + (f" · id {block.cell_id}" if block.cell_id else "") + " ----"
        parts.append(f"\n{provenance}\n{block.code}\n")
    return "\n".join(parts)


def _block_at(source: str, line: int) -> str:
    """The provenance of the block that holds ``line`` of the generated source."""
    where = "the module header"
    for number, text in enumerate(source.splitlines(), 1):
        if number > line:
            break
        if text.startswith("# ---- ") and text.endswith(" ----"):
            where = text[7:-5].replace(" · cell ", ", cell ").replace(" · id ", " (id ") + (")" if " · id " in text else "")
    return where


def lint(source: str) -> None:
    """Fail on names that no saved code defines (pyflakes), naming the block they come from."""
    try:
        from pyflakes import checker, messages
    except ImportError:  # pragma: no cover - pyflakes is a dev dependency
        raise ExtractError("pyflakes is not installed; run `make venv` (or `pip install -e .[dev]`).") from None
    tree = ast.parse(source)
    found = checker.Checker(tree, filename=str(OUTPUT))
    problems = []
    for message in sorted(found.messages, key=lambda m: m.lineno):
        if isinstance(message, (messages.UndefinedName, messages.UndefinedLocal, messages.UndefinedExport)):
            problems.append(f"{_block_at(source, message.lineno)}: {message.message % message.message_args}")
    if problems:
        raise ExtractError(
            "saved code uses names that no `#@save` block or saved import defines (the notebook may define them "
            "in a cell without `#@save`; save that cell, or add the import to a saved cell):\n  "
            + "\n  ".join(problems)
        )


def extract(notebook_dir: Path = NOTEBOOK_DIR) -> Extraction:
    blocks = collect_blocks(notebook_dir)
    source = render(blocks)
    try:
        compile(source, str(OUTPUT), "exec")
    except SyntaxError as error:  # e.g. a `return` that only parses inside a function
        raise ExtractError(f"{_block_at(source, error.lineno or 0)}: saved code does not compile: {error.msg}") from None
    lint(source)
    return Extraction(blocks=blocks, source=source)


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
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o777)
        else:
            os.chmod(tmp, 0o644)
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
    try:
        return path.resolve().relative_to(ROOT).as_posix()
    except ValueError:
        return str(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate d2l_local from the notebooks' #@save cells.")
    parser.add_argument("--check", action="store_true", help="do not write; exit 1 when d2l_local is stale")
    parser.add_argument("--notebooks", type=Path, default=NOTEBOOK_DIR, help=argparse.SUPPRESS)
    parser.add_argument("--output", type=Path, default=OUTPUT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        result = extract(args.notebooks)
    except ExtractError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    target = _rel(args.output)
    old = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
    if args.check:
        if old == result.source:
            print(f"{target} is up to date ({len(result.blocks)} saved blocks).")
            return 0
        print(f"{target} is stale: it differs from what the notebooks' #@save cells say.\n"
              f"{diff_summary(old, result.source, target)}\n"
              f"Fix: run `{REGENERATE}` (or `make d2l`) and commit the result; never edit {target} by hand.",
              file=sys.stderr)
        return 1
    if old == result.source:
        print(f"{target} unchanged ({len(result.blocks)} saved blocks).")
        return 0
    try:
        write_atomically(args.output, result.source)
    except ExtractError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"wrote {target} ({len(result.blocks)} saved blocks).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
