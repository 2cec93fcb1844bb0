"""The checked exercises of the book, as the tests see them: discovered from the notebooks.

Discovery is ``booktools.assignments.discover`` (the one nbgrader's assignments use): for every
chapter, its check cells (``ok = checks.name(answer)`` after ``from d2l_exercises import chNN as
checks``), the answer cells before them (the scaffolds with the teacher's solution between
``### BEGIN SOLUTION`` and ``### END SOLUTION``), the setup cell and the cells of the text the
exercises need. Nothing here names a chapter or an exercise, so a chapter that gains, loses, moves
or renumbers a checked exercise needs no change here.

The wrong-answer tables (``wrong_answers_*.py`` beside this file) are keyed by the check's name
(``"masked_softmax"``), never by chapter: an exercise can move to another chapter without touching
them. Two chapters may have checks of the same name (``greedy_decode``): an answer then belongs to
the one whose scaffold has the same parameter names.

``python tests/exercises/exercise_support.py`` prints how many wrong answers each check rejects.
"""
from __future__ import annotations

import ast
import contextlib
import dataclasses
import functools
import importlib
import inspect
import io
import sys
from pathlib import Path
from typing import Any

from booktools import assignments, extract, student
from booktools import nb as nbtools

HERE = Path(__file__).resolve().parent
ROOT = nbtools.ROOT
CHECKS_PACKAGE = assignments.CHECKS_PACKAGE


@dataclasses.dataclass
class Checked:
    """One checked exercise of a notebook."""
    path: Path
    exercise: assignments.Exercise
    setup: tuple[str, ...]     # the setup cell and the cells of the text the exercise needs, in order
    scaffold: str              # the answer cell(s), with the teacher's solution
    check: str                 # the check cell
    answer: str                # the name the check cell passes to the check
    is_class: bool
    is_function: bool          # the answer is a function or class (not a value the scaffold computes)
    params: tuple[str, ...]    # the parameters of the student's function (of __init__ for a class)
    heading_label: str         # "6.2（b）"

    @property
    def id(self) -> str:
        return f"{self.path.stem[:2]}-{self.exercise.name}"

    @property
    def name(self) -> str:
        return self.exercise.name

    @property
    def module(self):
        return importlib.import_module(f"{CHECKS_PACKAGE}.{self.exercise.module}")

    @property
    def check_function(self):
        return getattr(self.module, self.exercise.name)


def _answer_name(source: str) -> str:
    """The name the check cell passes to the check: `masked_softmax` in `ok = checks.x(masked_softmax)`."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args \
                and isinstance(node.args[0], ast.Name):
            return node.args[0].id
    raise ValueError(f"no `checks.name(answer)` call in {source!r}")


def _definition(source: str, name: str):
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name == name:
            return node
    return None


def _params(node) -> tuple[str, ...]:
    if isinstance(node, ast.ClassDef):
        init = next((n for n in node.body if isinstance(n, ast.FunctionDef) and n.name == "__init__"), None)
        return _params(init)[1:] if init is not None else ()
    if node is None:
        return ()
    args = node.args
    return tuple(a.arg for a in args.posonlyargs + args.args + args.kwonlyargs)


@functools.lru_cache(maxsize=None)
def discover() -> tuple[tuple[Checked, ...], tuple[tuple[str, str], ...]]:
    """(every checked exercise of every chapter, in reading order; (chapter, error) for chapters
    whose exercise cells cannot be read, so that one broken notebook fails its own test only)."""
    found, errors = [], []
    for path in nbtools.chapter_paths():
        try:
            chapter = assignments.discover(path)
        except (assignments.AssignmentError, nbtools.NotebookError, student.StudentEditionError) as error:
            errors.append((path.name, str(error)))
            continue
        if chapter is None:
            continue
        cells = chapter.nb.cells
        setup = tuple(nbtools.source(cells[i]) for i in [chapter.setup_cell] + chapter.dependencies)
        for ex in chapter.exercises:
            scaffold = "\n\n".join(nbtools.source(cells[i]) for i in ex.answer_cells)
            check = nbtools.source(cells[ex.check_cell])
            answer = _answer_name(check)
            node = _definition(scaffold, answer)
            found.append(Checked(path=path, exercise=ex, setup=setup, scaffold=scaffold, check=check,
                                 answer=answer, is_class=isinstance(node, ast.ClassDef),
                                 is_function=node is not None, params=_params(node),
                                 heading_label=ex.label))
    return tuple(found), tuple(errors)


def exercises() -> tuple[Checked, ...]:
    return discover()[0]


def by_check(name: str) -> list[Checked]:
    return [c for c in exercises() if c.name == name]


# ------------------------------------------------------------------------------------------------
# Running cells


def _plain(source: str) -> str:
    """A cell's source without IPython magics (none of the exercises' cells should have any)."""
    return "\n".join("pass" if extract.MAGIC_LINE.match(line) else line for line in source.split("\n"))


@functools.lru_cache(maxsize=None)
def _chapter_namespace(setup: tuple[str, ...]) -> dict:
    namespace: dict[str, Any] = {"__name__": "__main__"}
    with contextlib.redirect_stdout(io.StringIO()):
        for source in setup:
            exec(compile(_plain(source), "<setup cell>", "exec"), namespace)
    return namespace


def namespace(checked: Checked) -> dict:
    """A fresh namespace holding what the chapter's cells before the exercise give it."""
    return dict(_chapter_namespace(checked.setup))


def run(source: str, ns: dict) -> tuple[dict, str]:
    """exec `source` in `ns`; returns (ns, printed text)."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        exec(compile(source, "<exercise cell>", "exec"), ns)
    return ns, buffer.getvalue()


def run_exercise(checked: Checked, scaffold: str | None = None) -> tuple[Any, str]:
    """Run a scaffold (the teacher's by default) and the check cell as the notebook would: (ok, printed)."""
    ns = namespace(checked)
    ns, printed_scaffold = run(scaffold if scaffold is not None else checked.scaffold, ns)
    ns, printed = run(checked.check, ns)
    return ns.get(checked.exercise.call_target or "ok"), printed_scaffold + printed


def call_check(checked: Checked, answer) -> tuple[Any, str]:
    """checks.name(answer) with its printed report; `answer` may be source text defining the answer."""
    if isinstance(answer, str):
        ns, _ = run(answer, namespace(checked))
        answer = ns[checked.answer]
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        ok = checked.check_function(answer)
    return ok, buffer.getvalue()


def student_version(scaffold: str) -> str:
    """The scaffold as the student edition prints it (each solution block replaced by the placeholder)."""
    stripped, _ = student.strip_code(scaffold, "test")
    return stripped


def with_solution(scaffold: str, body) -> str:
    """The scaffold with every solution block replaced: `body` is a list of lines, or a function of
    the block's lines (without indentation) that returns the new lines."""
    out, block, indent = [], None, ""
    for line in scaffold.split("\n"):
        stripped = line.strip()
        if stripped == student.BEGIN:
            block, indent = [], line[:len(line) - len(line.lstrip())]
        elif stripped == student.END and block is not None:
            lines = body(block) if callable(body) else list(body)
            out.extend(indent + new for new in lines)
            block = None
        elif block is not None:
            block.append(line[len(indent):] if line.startswith(indent) else line.lstrip())
        else:
            out.append(line)
    return "\n".join(out)


def solution_text(scaffold: str) -> str:
    """The lines between the solution markers (all blocks)."""
    inside, lines = False, []
    for line in scaffold.split("\n"):
        if line.strip() == student.BEGIN:
            inside = True
        elif line.strip() == student.END:
            inside = False
        elif inside:
            lines.append(line)
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------
# The answer tables


@dataclasses.dataclass
class Answer:
    """A student's answer to a check: a function or class, or source text that defines it (run in the
    chapter's namespace, as a student's cell would be). `expect`: fragments the report must contain."""
    answer: Any
    expect: tuple[str, ...] = ()
    label: str = ""

    @property
    def name(self) -> str:
        if self.label:
            return self.label
        if isinstance(self.answer, str):
            return "source"
        return getattr(self.answer, "__name__", type(self.answer).__name__)

    def params(self) -> tuple[str, ...] | None:
        if isinstance(self.answer, str):
            tree = ast.parse(self.answer)
            node = next((n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))), None)
            return _params(node) if node is not None else None
        try:
            target = self.answer.__init__ if inspect.isclass(self.answer) else self.answer
            names = tuple(inspect.signature(target).parameters)
        except (TypeError, ValueError):
            return None
        return names[1:] if inspect.isclass(self.answer) and names[:1] == ("self",) else names


def wrong(answer, *expect: str, label: str = "") -> Answer:
    """A wrong answer: its report must be ✗ and contain every fragment of `expect`."""
    return Answer(answer, tuple(expect), label)


def right(answer, label: str = "") -> Answer:
    """Another correct answer (a different but valid implementation, or an equivalent type)."""
    return Answer(answer, (), label)


def tables() -> tuple[dict[str, list[Answer]], dict[str, list[Answer]]]:
    """(wrong answers, right answers), merged from every wrong_answers_*.py, keyed by check name."""
    if str(HERE) not in sys.path:
        sys.path.insert(0, str(HERE))
    wrong_answers: dict[str, list[Answer]] = {}
    right_answers: dict[str, list[Answer]] = {}
    for path in sorted(HERE.glob("wrong_answers_*.py")):
        module = importlib.import_module(path.stem)
        for name, answers in getattr(module, "WRONG", {}).items():
            wrong_answers.setdefault(name, []).extend(answers)
        for name, answers in getattr(module, "RIGHT", {}).items():
            right_answers.setdefault(name, []).extend(answers)
    return wrong_answers, right_answers


def exercise_for(check_name: str, answer: Answer) -> Checked | None:
    """The exercise whose check is `check_name`; among several of that name, the one whose scaffold
    has the answer's parameters. None when no chapter has it (or none matches)."""
    candidates = by_check(check_name)
    if len(candidates) <= 1:
        return candidates[0] if candidates else None
    params = answer.params()
    matching = [c for c in candidates if c.params == params]
    return matching[0] if len(matching) == 1 else None


def table_params(table: dict[str, list[Answer]]):
    """(check name, answer) pairs, for pytest.mark.parametrize."""
    return [(name, answer) for name, answers in table.items() for answer in answers]


def summary() -> str:
    """A table: every check, how many wrong answers it was tried on, how many it rejects (✗, no traceback)."""
    from d2l_exercises import core

    core_limit, core.TIME_LIMIT_S = core.TIME_LIMIT_S, 2.0
    wrong_answers, right_answers = tables()
    rows, total_tried, total_rejected = [], 0, 0
    try:
        for checked in exercises():
            tried = rejected = passed_right = 0
            for answer in wrong_answers.get(checked.name, []):
                if exercise_for(checked.name, answer) is not checked:
                    continue
                tried += 1
                ok, printed = call_check(checked, answer.answer)
                rejected += ok is False and printed.startswith("✗") and "Traceback" not in printed
            rights = [a for a in right_answers.get(checked.name, []) if exercise_for(checked.name, a) is checked]
            for answer in rights:
                passed_right += call_check(checked, answer.answer)[0] is True
            rows.append(f"| {checked.exercise.title} | `{checked.exercise.key}` | {tried} | {rejected} | "
                        f"{passed_right}/{len(rights)} |")
            total_tried, total_rejected = total_tried + tried, total_rejected + rejected
    finally:
        core.TIME_LIMIT_S = core_limit
    head = ["| 练习 | check | wrong answers tried | rejected (✗) | other right answers accepted |",
            "|---|---|---|---|---|"]
    return "\n".join(head + rows + [f"| all | | {total_tried} | {total_rejected} | |"])


if __name__ == "__main__":
    print(summary())
