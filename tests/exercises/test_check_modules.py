"""The convention every module of d2l_exercises follows (CONTRIBUTING.md, "Exercises with automatic checks").

* a module docstring in English (for maintainers) that starts ``Checks for the exercises of chapter N``
  and lists the checks, ``* :func:`name` — 练习 N.k: ...``;
* imports: ``from __future__ import annotations``, the standard library, torch, then ``from .core import``
  (relative: never ``d2l_exercises.core``, never the book's ``d2l_local`` at import time);
* ``__all__`` lists the checks (and any test double a chapter's text mentions); every check is in it;
* one section per exercise, opened by a banner: a rule of dashes, ``# 练习 N.k 标题``, a rule;
* what a student may read is Chinese: the checks' docstrings start ``练习 N.k：检查``; private helpers and
  comments are in English.
"""
from __future__ import annotations

import ast
import importlib
import pkgutil
import re
from pathlib import Path

import pytest

import d2l_exercises

PACKAGE = Path(d2l_exercises.__file__).parent
MODULES = sorted(info.name for info in pkgutil.iter_modules(d2l_exercises.__path__) if info.name != "core")
RULE = "# " + "-" * 99
CJK = re.compile(r"[\u4e00-\u9fff]")


def tree(name):
    return ast.parse((PACKAGE / f"{name}.py").read_text(encoding="utf-8"))


def checks(name):
    """The functions of the module that call check_function or report (its checks)."""
    found = []
    for node in tree(name).body:
        if isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
            calls = {n.func.id for n in ast.walk(node) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
            if calls & {"check_function", "check_value"}:
                found.append(node)
    return found


@pytest.mark.parametrize("name", MODULES)
def test_docstring_lists_the_checks(name):
    doc = ast.get_docstring(tree(name))
    assert doc and re.match(r"Checks for the exercises of chapter \d+ \(.+\)\.", doc), doc
    for node in checks(name):
        assert re.search(rf"^\* :func:`{node.name}` — 练习 ", doc, re.M), f"{name}: list `{node.name}` in the docstring"


@pytest.mark.parametrize("name", MODULES)
def test_imports(name):
    body = tree(name).body
    assert isinstance(body[1], ast.ImportFrom) and body[1].module == "__future__"
    for node in ast.walk(tree(name)):
        if isinstance(node, ast.ImportFrom) and node.level == 0:
            assert not (node.module or "").startswith("d2l_exercises"), f"{name}: write `from .core import ...`"
        if isinstance(node, (ast.Import, ast.ImportFrom)) and node.col_offset == 0:
            names = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
            assert not any(n.startswith("d2l_local") for n in names), \
                f"{name}: import d2l_local inside the function that needs it (importing the package stays light)"


@pytest.mark.parametrize("name", MODULES)
def test_all_lists_every_check(name):
    module = importlib.import_module(f"d2l_exercises.{name}")
    assert isinstance(module.__all__, list) and module.__all__
    for public in module.__all__:
        assert hasattr(module, public), f"{name}.__all__ names `{public}`, which the module does not define"
    for node in checks(name):
        assert node.name in module.__all__, f"{name}: add `{node.name}` to __all__"


@pytest.mark.parametrize("name", MODULES)
def test_a_banner_opens_every_exercise(name):
    lines = (PACKAGE / f"{name}.py").read_text(encoding="utf-8").splitlines()
    banners = [i for i in range(1, len(lines) - 1)
               if lines[i - 1] == RULE and lines[i + 1] == RULE and lines[i].startswith("# 练习 ")]
    assert len(banners) >= len(checks(name)), f"{name}: one banner (rule, `# 练习 N.k 标题`, rule) per exercise"
    other_rules = [i for i, line in enumerate(lines) if line.startswith("# ---")
                   and not any(abs(i - b) == 1 for b in banners)]
    assert not other_rules, f"{name}: lines {other_rules}: only the banner's rules, {len(RULE)} characters wide"


@pytest.mark.parametrize("name", MODULES)
def test_what_a_student_reads_is_chinese(name):
    module = importlib.import_module(f"d2l_exercises.{name}")
    for public in module.__all__:
        doc = getattr(module, public).__doc__ or ""
        assert CJK.search(doc), f"{name}.{public}: a docstring in Chinese (students may call help() on it)"
    for node in checks(name):
        assert re.match(r"练习 \S+：检查", ast.get_docstring(node) or ""), f"{name}.{node.name}: `练习 N.k：检查 ...`"
