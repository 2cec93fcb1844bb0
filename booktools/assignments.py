"""Write nbgrader assignments from the teachers' edition: ``python -m booktools.assignments [--out DIR]``.

The output (default ``_build/assignments``) is an nbgrader course directory: ``nbgrader_config.py``
(the book's placeholder as nbgrader's code stub) and ``source/<chapter>/<chapter>.ipynb``, one
assignment per chapter that has checked exercises, named after the chapter's notebook. Nothing is
hard-coded: chapters and exercises are discovered from ``notebooks/`` every time.

**What an assignment holds.** Only what grading needs, not the whole chapter: a title cell, the
chapter's setup cell, the cells of the chapter's text that the exercises use (found by following
names: a function the scaffold calls, an import, ``d2l``), and the chapter's checked-exercise
section. nbgrader's autograder executes every cell of a submission, so a whole chapter would train
its models again for every student (minutes each); this way a submission runs in seconds. The
dependency cells are found statically (``ast``) and are listed when the command runs; the nbgrader
round trip (``tests/system/test_nbgrader.py``) proves that the teachers' edition still gets full
marks, i.e. that nothing an exercise needs was left out.

**Exercises** are found as CONTRIBUTING.md describes them. A *check cell* is a code cell tagged
``exercise`` that calls ``checks.<name>(...)`` after ``from d2l_exercises import chNN as checks``;
every code cell tagged ``exercise`` that holds a ``### BEGIN SOLUTION`` block before it (and after the
previous check cell) is its *answer cell*. In the assignment:

* an answer cell is an autograded answer: ``nbgrader: {grade: false, solution: true, locked: false}``;
  its solution blocks stay in the source version, and ``nbgrader generate_assignment`` replaces them
  with the stub set in ``nbgrader_config.py`` (the student edition's placeholder);
* a check cell is a locked, graded test cell worth the exercise's points: the chapter's own check
  (it prints ✓ / ✗ with the reason / ⏳, never a traceback) followed by ``assert ok, "…"``, so a wrong
  or missing answer fails the cell with one short assertion and nbgrader gives it 0 points;
* every other cell is read-only (``locked: true``); code cells tagged ``solution`` (demonstrations that
  use the reference answer) are left out, as are the written exercises' reference answers
  (``<!-- BEGIN SOLUTION -->`` … ``<!-- END SOLUTION -->``): written answers are graded by hand,
  outside these assignments.

**Points** live in ``booktools/config.py``: ``ASSIGNMENT_DEFAULT_POINTS`` for every check, and
``ASSIGNMENT_POINTS`` for the exceptions, keyed by the check's name (``"masked_softmax"``, or
``"chNN.name"`` where two chapters have a check of that name). A key that matches no check, or more
than one, is an error.

**Nothing a teacher had is overwritten.** The command records what it wrote (with checksums) in
``.book-assignments.json``; it replaces or removes only files it wrote itself and that nobody has
changed since, and never replaces an ``nbgrader_config.py`` it did not write. Everything is checked
before anything is written; each file is written atomically.
"""
from __future__ import annotations

import argparse
import ast
import builtins
import hashlib
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from booktools import config, extract, student
from booktools import nb as nbtools

ROOT = nbtools.ROOT
NOTEBOOKS = nbtools.NOTEBOOK_DIR
DEFAULT_OUT = nbtools.BUILD_DIR / "assignments"
MANIFEST = ".book-assignments.json"
SCHEMA_VERSION = 3  # the version of nbgrader's cell-metadata schema that nbgrader 0.9 expects
SETUP_TAG, EXERCISE_TAG, SOLUTION_TAG = nbtools.SETUP_TAG, nbtools.EXERCISE_TAG, nbtools.SOLUTION_TAG
CHECKS_PACKAGE = "d2l_exercises"
# Names a notebook may use without defining them: Python's builtins and what IPython provides.
PREDEFINED = set(dir(builtins)) | {"get_ipython", "display", "In", "Out", "exit", "quit", "__name__"}
EXERCISE_HEADING = re.compile(r"^#{2,4}\s*练习\s*(?P<label>[^（(：:\s]+(?:（[^）自]*）)?)")
IMAGE_LINK = re.compile(r"\]\(\.\./images/(?P<name>[^)\s]+)\)")

_CODE_STUB = "\n".join(student.PLACEHOLDER)
NBGRADER_CONFIG = f'''\
# nbgrader settings for the assignments of this book (written by `python -m booktools.assignments`).
# generate_assignment replaces each `### BEGIN SOLUTION` ... `### END SOLUTION` block by the same
# placeholder the book's student edition uses; the exercises' checks recognise it ("⏳ 还没有完成").
c = get_config()  # noqa: F821 (nbgrader provides get_config)
c.ClearSolutions.code_stub = {{"python": {_CODE_STUB!r}}}
c.ClearSolutions.text_stub = "在这里写你的答案"
'''


class AssignmentError(Exception):
    """A notebook or setting the assignments cannot be made from (the message says where and what to do)."""


# ---------------------------------------------------------------------------------------------
# Which names a cell needs and which it defines


def _parse(source: str, where: str) -> ast.Module:
    code = "\n".join("" if extract.MAGIC_LINE.match(line) else line for line in source.split("\n"))
    try:
        return ast.parse(code)
    except SyntaxError as error:
        raise AssignmentError(f"{where}: not valid Python (line {error.lineno}: {error.msg})") from None


def _bound_anywhere(node: ast.AST) -> set[str]:
    """Every name `node` binds in any scope inside it (parameters, assignments, definitions, imports)."""
    names = set()
    for n in ast.walk(node):
        if isinstance(n, ast.Name) and isinstance(n.ctx, (ast.Store, ast.Del)):
            names.add(n.id)
        elif isinstance(n, ast.arg):
            names.add(n.arg)
        elif isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(n.name)
        elif isinstance(n, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in n.names)
        elif isinstance(n, ast.ExceptHandler) and n.name:
            names.add(n.name)
    return names


def _bound_at_top(stmt: ast.stmt) -> set[str]:
    """The module-level names a top-level statement binds."""
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {stmt.name}
    names, todo = set(), [stmt]
    while todo:
        n = todo.pop()
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(n.name)  # e.g. a def inside an `if` at top level
            continue
        if isinstance(n, (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            continue
        if isinstance(n, ast.Name) and isinstance(n.ctx, (ast.Store, ast.Del)):
            names.add(n.id)
        elif isinstance(n, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in n.names)
        elif isinstance(n, ast.ExceptHandler) and n.name:
            names.add(n.name)
        todo.extend(ast.iter_child_nodes(n))
    return names


def _loads(stmt: ast.stmt) -> tuple[set[str], set[str]]:
    """(names read when the statement runs, names read later, inside functions it defines)."""
    now, later = set(), set()

    def visit(node, local, deferred):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            # decorators, defaults and annotations run now; the body runs when it is called
            heads = list(getattr(node, "decorator_list", [])) + list(node.args.defaults) + \
                [d for d in node.args.kw_defaults if d is not None]
            for head in heads:
                visit(head, local, deferred)
            inner = local | _bound_anywhere(node)
            for child in (node.body if isinstance(node.body, list) else [node.body]):
                visit(child, inner, True)
            return
        if isinstance(node, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            local = local | _bound_anywhere(node)
        if isinstance(node, ast.ClassDef):
            local = local | _bound_anywhere(node)
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id not in local:
            (later if deferred else now).add(node.id)
        for child in ast.iter_child_nodes(node):
            visit(child, local, deferred)

    visit(stmt, set(), False)
    return now, later


@dataclass
class CodeInfo:
    needs_now: set[str]    # read at the top level before the cell binds them
    needs_later: set[str]  # read inside functions the cell defines (resolved when they are called)
    defines: set[str]


def code_info(source: str, where: str = "cell") -> CodeInfo:
    """What a code cell reads from the notebook's namespace, and what it defines there."""
    needs_now, needs_later, bound = set(), set(), set()
    for stmt in _parse(source, where).body:
        now, later = _loads(stmt)
        binds = _bound_at_top(stmt)
        compound = not isinstance(stmt, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Expr, ast.Return))
        needs_now |= now - bound - (binds if compound else set())  # `if`/`for`/`try` may read what they bind
        needs_later |= later
        bound |= binds
    return CodeInfo(needs_now - PREDEFINED, needs_later - bound - PREDEFINED, bound)


# ---------------------------------------------------------------------------------------------
# The exercises of one chapter


@dataclass
class Exercise:
    module: str             # e.g. "ch05" (d2l_exercises.ch05)
    name: str               # the check's name, e.g. "masked_softmax"
    label: str              # e.g. "5.3", from the exercise's heading ("" when it has none)
    answer_cells: list[int]
    check_cell: int
    points: float = 0
    call_target: str = ""   # the name the check cell assigns the verdict to ("ok"), or "" for a bare call

    @property
    def key(self) -> str:
        return f"{self.module}.{self.name}"

    @property
    def title(self) -> str:
        return f"练习 {self.label}" if self.label else f"练习 {self.name}"

    @property
    def test_id(self) -> str:
        """The nbgrader grade_id of the check cell (the graded test cell)."""
        return f"test_{_grade_id(self.name)}"

    @property
    def answer_ids(self) -> list[str]:
        """The nbgrader grade_ids of the answer cells, in order."""
        base = f"answer_{_grade_id(self.name)}"
        return [base if k == 0 else f"{base}_{k + 1}" for k in range(len(self.answer_cells))]


@dataclass
class Chapter:
    path: Path
    nb: nbformat.NotebookNode
    exercises: list[Exercise]
    setup_cell: int
    section: list[int]        # the cells of the checked-exercise section that go into the assignment
    dependencies: list[int] = field(default_factory=list)  # cells of the text the section needs

    @property
    def name(self) -> str:
        return self.path.stem

    @property
    def heading(self) -> str:
        for cell in self.nb.cells:
            if cell.cell_type == "markdown":
                for line in cell.source.split("\n"):
                    if re.match(r"^#\s+\S", line):
                        return line.lstrip("#").strip()
        return self.name


_where = nbtools.where
_tags = nbtools.tags


def _check_call(source: str, where: str) -> tuple[str, str, str] | None:
    """(module, check name, assigned name) when the cell calls a check of d2l_exercises, else None."""
    tree = _parse(source, where)
    aliases = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == CHECKS_PACKAGE:
            aliases.update({a.asname or a.name: a.name for a in node.names})
    calls = []
    for stmt in tree.body:
        value = stmt.value if isinstance(stmt, (ast.Assign, ast.Expr)) else None
        if (isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute)
                and isinstance(value.func.value, ast.Name) and value.func.value.id in aliases):
            target = ""
            if isinstance(stmt, ast.Assign):
                if len(stmt.targets) != 1 or not isinstance(stmt.targets[0], ast.Name):
                    raise AssignmentError(f"{where}: write the check as `ok = checks.name(function)`")
                target = stmt.targets[0].id
            calls.append((aliases[value.func.value.id], value.func.attr, target))
    if not calls:
        return None
    if len(calls) > 1:
        raise AssignmentError(f"{where}: one check per check cell, found {len(calls)} "
                              f"({', '.join(c[1] for c in calls)}); split the cell")
    return calls[0]


def _label(nb, before: int) -> str:
    """The exercise number from the nearest `### 练习 N.k（自动检查）` heading before cell `before`."""
    for cell in reversed(nb.cells[:before]):
        if cell.cell_type == "markdown":
            for line in cell.source.split("\n"):
                match = EXERCISE_HEADING.match(line.strip())
                if match:
                    return match.group("label")
            if any(line.startswith("#") for line in cell.source.split("\n")):
                return ""  # another heading comes first: this exercise has no number
    return ""


def discover(path: Path, nb=None) -> Chapter | None:
    """The chapter's checked exercises and the cells an assignment needs; None when it has no checks."""
    path = Path(path)
    if nb is None:
        try:
            nb = nbformat.read(path, as_version=4)
        except Exception as error:
            raise AssignmentError(f"{path}: not a readable notebook ({error})") from error
    exercises, pending = [], []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or EXERCISE_TAG not in _tags(cell):
            continue
        where = _where(path, index, cell)
        _, blocks = student.strip_code(cell.source, where)  # also checks that the markers are well formed
        call = _check_call(cell.source, where)
        if blocks and call:
            raise AssignmentError(f"{where}: a cell holds both a solution block and a check; put the check "
                                  "in a cell of its own after the answer")
        if blocks:
            pending.append(index)
        elif call:
            if not pending:
                raise AssignmentError(f"{where}: the check `{call[1]}` has no answer cell before it (a cell "
                                      f"tagged `{EXERCISE_TAG}` with a `{student.BEGIN}` block)")
            exercises.append(Exercise(module=call[0], name=call[1], label=_label(nb, pending[0]),
                                      answer_cells=pending, check_cell=index, call_target=call[2]))
            pending = []
    names = [ex.name for ex in exercises]
    for ex in exercises:
        if names.count(ex.name) > 1:
            raise AssignmentError(f"{path}: the check `{ex.name}` is called by {names.count(ex.name)} check cells; "
                                  "each exercise of a chapter needs its own check")
    if pending:
        where = _where(path, pending[0], nb.cells[pending[0]])
        raise AssignmentError(f"{where}: a solution block that no check cell after it grades; add the check "
                              f"cell (`from {CHECKS_PACKAGE} import chNN as checks`, `ok = checks.name(...)`)")
    if not exercises:
        return None
    setup = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and SETUP_TAG in _tags(c)]
    if len(setup) != 1:
        raise AssignmentError(f"{path}: expected exactly one setup cell (tagged `{SETUP_TAG}`), found "
                              f"{len(setup)}; run `python -m booktools.stamp`")
    start = exercises[0].answer_cells[0]
    previous = nb.cells[start - 1] if start > 0 else None
    if previous is not None and previous.cell_type == "markdown" and EXERCISE_HEADING.match(
            previous.source.lstrip()):
        start -= 1  # the exercise's own heading and instructions
    section = [i for i in range(start, exercises[-1].check_cell + 1)
               if not (nb.cells[i].cell_type == "code" and SOLUTION_TAG in _tags(nb.cells[i]))]
    chapter = Chapter(path=path, nb=nb, exercises=exercises, setup_cell=setup[0], section=section)
    chapter.dependencies = _dependencies(chapter)
    return chapter


def _dependencies(chapter: Chapter) -> list[int]:
    """The cells before the exercise section that the section needs, found by following names."""
    nb, path = chapter.nb, chapter.path
    start = chapter.section[0]
    infos = {}
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and SOLUTION_TAG not in _tags(cell) and \
                (index < start or index in chapter.section):
            infos[index] = code_info(cell.source, _where(path, index, cell))

    def binding_cell(name, before):
        cells = [j for j in infos if j < before and name in infos[j].defines]
        return max(cells) if cells else None

    needed = {chapter.setup_cell}
    todo = []  # (name, the cell that needs it, look for a definition before this cell)
    for index in chapter.section:
        if index in infos:
            todo += [(n, index, index) for n in infos[index].needs_now]
            todo += [(n, index, index) for n in infos[index].needs_later]
    todo += [(n, chapter.setup_cell, chapter.setup_cell) for n in infos[chapter.setup_cell].needs_now]
    seen = set()
    while todo:
        name, user, before = todo.pop()
        if (name, before) in seen:
            continue
        seen.add((name, before))
        j = binding_cell(name, before)
        if j is None:
            raise AssignmentError(
                f"{_where(path, user, nb.cells[user])}: uses `{name}`, which no cell before it defines; "
                "define or import it in the chapter (the assignment runs only the cells the exercises need)")
        if j >= start or j in needed:
            continue
        cell = nb.cells[j]
        if student.BEGIN.lstrip("# ") in cell.source or student.END.lstrip("# ") in cell.source:
            raise AssignmentError(f"{_where(path, j, cell)}: the exercises need this cell, but it holds a "
                                  "solution block outside the exercise section")
        needed.add(j)
        todo += [(n, j, j) for n in infos[j].needs_now]
        todo += [(n, j, start) for n in infos[j].needs_later]  # a function body runs when it is called
    return sorted(needed - {chapter.setup_cell})


# ---------------------------------------------------------------------------------------------
# Points


def _check_points(value, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value or value < 0:
        raise AssignmentError(f"booktools/config.py: {where} must be a number >= 0, got {value!r}")
    return value


def assign_points(chapters: list[Chapter], default=None, overrides=None, all_chapters=None) -> None:
    """Give every exercise its points: the override that names its check, else the default.

    ``all_chapters`` (default: ``chapters``) are the chapters an override may name; a key that names
    no check of theirs, or an unqualified name that two of their checks share, is an error."""
    default = config.ASSIGNMENT_DEFAULT_POINTS if default is None else default
    overrides = config.ASSIGNMENT_POINTS if overrides is None else overrides
    _check_points(default, "ASSIGNMENT_DEFAULT_POINTS")
    known = [ex for ch in (all_chapters or chapters) for ex in ch.exercises]
    for key, value in overrides.items():
        _check_points(value, f"ASSIGNMENT_POINTS[{key!r}]")
        matching = [ex for ex in known if key in (ex.name, ex.key)]
        if not matching:
            raise AssignmentError(
                f"booktools/config.py: ASSIGNMENT_POINTS names {key!r}, but no chapter has a check of that "
                f"name (checks: {', '.join(sorted({ex.key for ex in known}))}); rename or remove the entry")
        if len(matching) > 1:
            raise AssignmentError(
                f"booktools/config.py: ASSIGNMENT_POINTS[{key!r}] matches {len(matching)} checks "
                f"({', '.join(ex.key for ex in matching)}); write the key as module.name, e.g. {matching[0].key!r}")
    for chapter in chapters:
        for ex in chapter.exercises:
            value = overrides.get(ex.key, overrides.get(ex.name, default))
            ex.points = int(value) if float(value).is_integer() else float(value)


# ---------------------------------------------------------------------------------------------
# One assignment notebook


def _meta(grade_id: str, *, grade=False, solution=False, locked=False, points=None) -> dict:
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": SCHEMA_VERSION,
            "solution": solution}
    if grade:
        meta["points"] = points
    return meta


def _grade_id(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", text)


def _clean(cell, grade_id: str, **nbgrader) -> nbformat.NotebookNode:
    cell = nbformat.from_dict(cell)  # a deep copy
    if cell.cell_type == "code":
        cell.outputs, cell.execution_count = [], None
    cell.metadata = {k: v for k, v in cell.metadata.items() if k in ("tags",)}
    cell.metadata["nbgrader"] = _meta(grade_id, **nbgrader)
    return cell


def _fmt(points) -> str:
    return f"{points:g}"


def _test_source(source: str, ex: Exercise) -> str:
    verdict = ex.call_target
    if not verdict:  # a bare `checks.name(...)`: keep its verdict
        verdict = "ok"
        lines = source.split("\n")
        source = "\n".join(f"ok = {line}" if re.match(r"^\w+\.\w+\(", line) and f".{ex.name}(" in line
                           else line for line in lines)
    return (source.rstrip("\n") + "\n\n# 评分：检查没有通过（上面是原因）时这一格出错，这道题不得分\n"
            f"assert {verdict}, \"{ex.title}{'' if ex.title.endswith('）') else ' '}没有通过检查：原因见上面的说明（✗ 或 ⏳）\"")


def assignment_notebook(chapter: Chapter) -> tuple[nbformat.NotebookNode, list[str]]:
    """The nbgrader source notebook of one chapter, and the images (names in images/) it shows."""
    nb = chapter.nb
    answers = {i: ex for ex in chapter.exercises for i in ex.answer_cells}
    checks = {ex.check_cell: ex for ex in chapter.exercises}
    total = sum(ex.points for ex in chapter.exercises)
    listing = "、".join(f"{ex.title}（{_fmt(ex.points)} 分）" for ex in chapter.exercises)
    intro = nbformat.v4.new_markdown_cell(
        f"# 作业 · {chapter.heading}\n\n"
        f"本作业是这一章的 {len(chapter.exercises)} 道自动检查的练习，共 {_fmt(total)} 分：{listing}。\n\n"
        "在标着“练习”的代码单元格里完成函数（把 `raise NotImplementedError(...)` 换成你的代码），"
        "运行它和下面的检查单元格：✓ 表示通过，✗ 说明错在哪里，⏳ 表示还没有完成。"
        "检查通过的练习得满分，否则这道题不得分。其余单元格是只读的。"
        "提交前请重启内核并从头运行全部单元格，确认结果和你看到的一样。")
    intro.id = "assignment-intro"
    cells = [_clean(intro, "assignment_intro", locked=True)]
    cells.append(_clean(nb.cells[chapter.setup_cell], "setup", locked=True))
    if chapter.dependencies:
        note = nbformat.v4.new_markdown_cell(
            f"下面 {len(chapter.dependencies)} 个单元格来自这一章的正文，后面的练习要用到它们（只读，直接运行即可）。")
        note.id = "assignment-from-text"
        cells.append(_clean(note, "from_text", locked=True))
    images = []
    for index in chapter.dependencies + chapter.section:
        cell, where = nb.cells[index], _where(chapter.path, index, nb.cells[index])
        cell_key = _grade_id(str(cell.get("id") or f"cell{index}"))
        if index in answers:
            ex = answers[index]
            new = _clean(cell, ex.answer_ids[ex.answer_cells.index(index)], solution=True)
        elif index in checks:
            ex = checks[index]
            new = _clean(cell, ex.test_id, grade=True, locked=True, points=ex.points)
            new.source = _test_source(cell.source, ex)
        else:
            new = _clean(cell, f"text_{cell_key}", locked=True)
            if new.cell_type == "markdown":
                new.source, _ = student.strip_markdown(new.source, where)
                images += IMAGE_LINK.findall(new.source)
                new.source = IMAGE_LINK.sub(lambda m: f"](images/{m.group('name')})", new.source)
            elif student.BEGIN.lstrip("# ") in new.source or student.END.lstrip("# ") in new.source:
                raise AssignmentError(f"{where}: a solution marker in a cell that is not an answer cell "
                                      f"(tag the cell `{EXERCISE_TAG}` and give it a check)")
        cells.append(new)
    out = nbformat.v4.new_notebook(cells=cells, metadata={
        k: v for k, v in nb.metadata.items() if k in ("kernelspec", "language_info")})
    out.metadata["book_edition"] = "nbgrader-source"
    for cell in out.cells:  # nbgrader matches BEGIN/END SOLUTION anywhere, in any cell
        if not cell.metadata["nbgrader"]["solution"] and ("BEGIN SOLUTION" in cell.source or
                                                          "END SOLUTION" in cell.source):
            raise AssignmentError(f"{chapter.path}: cell {cell.metadata['nbgrader']['grade_id']} mentions "
                                  "BEGIN/END SOLUTION outside an answer cell; nbgrader would refuse it")
    ids = [cell.metadata["nbgrader"]["grade_id"] for cell in out.cells]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise AssignmentError(f"{chapter.path}: two cells would get the grade_id {duplicates[0]!r} "
                              "(give the cells distinct ids)")
    nbformat.validate(out)
    return out, sorted(set(images))


# ---------------------------------------------------------------------------------------------
# The tree


def plan(paths=None) -> list[Chapter]:
    """Every chapter of `paths` (default: all of notebooks/) that has checked exercises, with points."""
    all_paths = nbtools.chapter_paths(NOTEBOOKS)
    paths = [Path(p) for p in paths] if paths else all_paths
    found = {Path(p).resolve(): discover(p) for p in dict.fromkeys(list(paths) + list(all_paths))}
    everything = [ch for ch in found.values() if ch is not None]
    chosen = [found[Path(p).resolve()] for p in paths if found[Path(p).resolve()] is not None]
    assign_points(chosen, all_chapters=everything)
    return chosen


def render(chapters: list[Chapter]) -> dict[str, bytes]:
    """{path relative to the course directory: content} of the whole tree."""
    files = {"nbgrader_config.py": NBGRADER_CONFIG.encode()}
    for chapter in chapters:
        nb, images = assignment_notebook(chapter)
        folder = f"source/{chapter.name}"
        files[f"{folder}/{chapter.name}.ipynb"] = (nbformat.writes(nb) + "\n").encode()
        for name in images:
            image = ROOT / "images" / name
            if not image.is_file():
                raise AssignmentError(f"{chapter.path}: the exercise section shows ../images/{name}, "
                                      "which does not exist")
            files[f"{folder}/images/{name}"] = image.read_bytes()
    return files


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _atomic_write(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    nbtools.write_atomically(target, data)


def write_tree(files: dict[str, bytes], out: Path) -> dict:
    """Write `files` under `out` without losing anything a person wrote there.

    A file is (re)written when it is new, already identical, or one this command wrote before and
    nobody changed since; a generated file that is no longer generated (a renamed chapter) is removed
    on the same terms. A changed file is an error (nothing is written), except nbgrader_config.py,
    which is left alone with a note. Returns {"written": [...], "removed": [...], "kept": [...]}."""
    out = Path(out).resolve()
    notebooks = NOTEBOOKS.resolve()
    if out == notebooks or out.is_relative_to(notebooks) or notebooks.is_relative_to(out):
        raise AssignmentError(f"--out {out} would write among the teachers' notebooks ({notebooks}); choose "
                              "another directory (default: _build/assignments)")
    manifest_path = out / MANIFEST
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8")) if manifest_path.exists() else {}
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise AssignmentError(f"{manifest_path} is damaged; delete it (generated files will then count as "
                              "someone else's and are not overwritten)") from None
    ours = manifest.get("files", {})

    def untouched(rel):  # the file is ours and unchanged since we wrote it
        path = out / rel
        return rel in ours and path.is_file() and _sha(path.read_bytes()) == ours[rel]

    conflicts, kept = [], []
    for rel, data in files.items():
        path = out / rel
        if path.exists() and not (path.is_file() and path.read_bytes() == data) and not untouched(rel):
            (kept if rel == "nbgrader_config.py" else conflicts).append(rel)
    if conflicts:
        raise AssignmentError(
            f"{len(conflicts)} file(s) under {out} were not written by this command or were changed since: "
            + ", ".join(conflicts[:5]) + (" …" if len(conflicts) > 5 else "")
            + ". Move them away (or choose another --out) and run it again; nothing was written.")
    written = []
    for rel, data in files.items():
        if rel in kept:
            continue
        path = out / rel
        if not (path.is_file() and path.read_bytes() == data):
            _atomic_write(path, data)
        written.append(rel)
    removed = []
    for rel in sorted(set(ours) - set(files)):
        if untouched(rel):
            (out / rel).unlink()
            removed.append(rel)
            parent = (out / rel).parent
            while parent != out and parent.is_dir() and not any(parent.iterdir()):
                parent.rmdir()
                parent = parent.parent
    record = {rel: _sha(files[rel]) for rel in written}
    record.update({rel: ours[rel] for rel in kept if rel in ours})
    _atomic_write(manifest_path, (json.dumps({"generator": "python -m booktools.assignments",
                                              "files": dict(sorted(record.items()))},
                                             ensure_ascii=False, indent=1) + "\n").encode())
    return {"written": written, "removed": removed, "kept": kept}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: every chapter in notebooks/")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="default: _build/assignments")
    args = parser.parse_args(argv)
    try:
        chapters = plan(args.notebooks)
        result = write_tree(render(chapters), args.out)
    except (AssignmentError, nbtools.NotebookError, student.StudentEditionError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for chapter in chapters:
        exercises = ", ".join(f"{ex.title} {ex.key} {_fmt(ex.points)}" for ex in chapter.exercises)
        deps = chapter.dependencies
        text = (f"cell{'s' if len(deps) > 1 else ''} {', '.join(map(str, deps))} of the text" if deps
                else "no cell of the text")
        print(f"{chapter.name}: {exercises}; total {_fmt(sum(ex.points for ex in chapter.exercises))}; "
              f"setup cell + {text}")
    for rel in result["removed"]:
        print(f"removed {rel} (no longer generated)")
    if result["kept"]:
        print(f"note: {args.out / 'nbgrader_config.py'} is not ours and was left as it is; add these lines "
              f"to it:\n{NBGRADER_CONFIG}")
    print(f"nbgrader course directory: {args.out} ({len(chapters)} assignments in source/)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
