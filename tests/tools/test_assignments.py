"""booktools.assignments: the nbgrader source tree (metadata, locks, points, what is left out, safety).

Fast: nothing is executed here. The nbgrader round trip (generate_assignment, autograde) is
tests/system/test_nbgrader.py (`make grading-test`); the tests at the end that use nbgrader's own
preprocessors and validator run where nbgrader is installed (`make grading-test` runs this file too).
"""
from __future__ import annotations

import io
import re

import nbformat
import pytest

from booktools import assignments, config, extract, student

GRADE_ID = re.compile(r"^[a-zA-Z0-9_\-]+$")  # nbgrader's schema (v3) for grade_id
CHECK_CALL = re.compile(r"^\s*(?:\w+\s*=\s*)?checks\.(\w+)\(", re.M)
KERNELSPEC = {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}}


# ---------------------------------------------------------------------------------------------
# helpers


def nbg(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def secret_lines(nb) -> list[str]:
    """Distinctive lines of the reference answers that the chapter does not also show to students."""
    public, _ = student.student_notebook(nb)
    public_text = "\n".join(c.source for c in public.cells)
    lines = []
    for cell in nb.cells:
        inside = False
        for line in cell.source.split("\n"):
            if line.strip() in (student.BEGIN, student.MD_BEGIN):
                inside = True
            elif line.strip() in (student.END, student.MD_END):
                inside = False
            elif inside or "solution" in cell.metadata.get("tags", []):
                lines.append(line.strip())
    return [s for s in lines if len(s) >= 12 and not s.startswith("#") and s not in public_text]


def expected_points(module: str, name: str):
    table = config.ASSIGNMENT_POINTS
    return table.get(f"{module}.{name}", table.get(name, config.ASSIGNMENT_DEFAULT_POINTS))


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    """The tree for the book's real chapters, written by the command itself."""
    out = tmp_path_factory.mktemp("course")
    assert assignments.main(["--out", str(out)]) == 0
    chapters = assignments.plan()
    notebooks = {ch.name: nbformat.read(out / "source" / ch.name / f"{ch.name}.ipynb", as_version=4)
                 for ch in chapters}
    return out, chapters, notebooks


def code(source, tags=(), cell_id=None):
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": list(tags)})
    if cell_id:
        cell.id = cell_id
    return cell


def md(source, cell_id=None):
    cell = nbformat.v4.new_markdown_cell(source)
    if cell_id:
        cell.id = cell_id
    return cell


SETUP = code("import d2l_local as d2l", ["setup"], "setup-cell")
ANSWER = '''\
def twice(x):
    """Return 2x."""
    ### BEGIN SOLUTION
    return helper(x)
    ### END SOLUTION'''
CHECK = "from d2l_exercises import ch99 as checks\n\nok = checks.twice(twice)"


def synthetic(tmp_path, cells, name="99_synthetic.ipynb"):
    nb = nbformat.v4.new_notebook(cells=[md("# 99. 合成的一章", "title"), SETUP] + cells, metadata=KERNELSPEC)
    path = tmp_path / name
    nbformat.write(nb, path)
    return path


def exercise(label="99.1", answer=ANSWER, check=CHECK, tag_id="x"):
    return [md(f"### 练习 {label}（自动检查）：写一个函数", f"h-{tag_id}"),
            code(answer, ["exercise"], f"a-{tag_id}"), code(check, ["exercise"], f"c-{tag_id}")]


# ---------------------------------------------------------------------------------------------
# The book's chapters


def test_every_check_cell_of_every_chapter_becomes_a_graded_exercise(tree):
    _, chapters, _ = tree
    found = {}
    for path in extract.notebook_paths(assignments.NOTEBOOKS):  # an independent scan of the notebooks
        nb = nbformat.read(path, as_version=4)
        names = [m for c in nb.cells if c.cell_type == "code" and "exercise" in c.metadata.get("tags", [])
                 for m in CHECK_CALL.findall(c.source)]
        if names:
            found[path.stem] = names
    assert found, "the book has no checked exercise at all"
    assert {ch.name: [ex.name for ex in ch.exercises] for ch in chapters} == found


def test_every_cell_has_valid_nbgrader_metadata_and_only_answers_are_unlocked(tree):
    _, chapters, notebooks = tree
    for chapter in chapters:
        nb = notebooks[chapter.name]
        ids = [nbg(c).get("grade_id") for c in nb.cells]
        assert len(ids) == len(set(ids)), f"{chapter.name}: duplicate grade_id"
        answers = {i for ex in chapter.exercises for i in ex.answer_ids}
        tests = {ex.test_id: ex for ex in chapter.exercises}
        for cell in nb.cells:
            meta = nbg(cell)
            assert meta["schema_version"] == 3 and GRADE_ID.match(meta["grade_id"]), meta
            assert set(meta) <= {"grade", "grade_id", "locked", "points", "schema_version", "solution"}
            if meta["grade_id"] in answers:
                assert (meta["grade"], meta["solution"], meta["locked"]) == (False, True, False)
                assert cell.cell_type == "code" and student.BEGIN in cell.source and student.END in cell.source
            elif meta["grade_id"] in tests:
                ex = tests[meta["grade_id"]]
                assert (meta["grade"], meta["solution"], meta["locked"]) == (True, False, True)
                assert meta["points"] == expected_points(ex.module, ex.name)
            else:
                assert (meta["grade"], meta["solution"], meta["locked"]) == (False, False, True), meta
                assert "points" not in meta
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None
        graded = [nbg(c)["grade_id"] for c in nb.cells if nbg(c)["grade"]]
        assert graded == [ex.test_id for ex in chapter.exercises]
        assert sorted(nbg(c)["grade_id"] for c in nb.cells if nbg(c)["solution"]) == sorted(answers)


def test_answer_cells_are_the_teachers_scaffolds_and_test_cells_the_chapters_checks(tree):
    _, chapters, notebooks = tree
    for chapter in chapters:
        cells = {nbg(c)["grade_id"]: c for c in notebooks[chapter.name].cells}
        for ex in chapter.exercises:
            for grade_id, index in zip(ex.answer_ids, ex.answer_cells):
                assert cells[grade_id].source == chapter.nb.cells[index].source
            test = cells[ex.test_id].source
            original = chapter.nb.cells[ex.check_cell].source
            assert test.startswith(original.rstrip("\n"))
            last = test.rstrip().split("\n")[-1]
            assert last.startswith(f"assert {ex.call_target or 'ok'}, ") and ex.title in last
            compile(test, ex.test_id, "exec")


def test_points_are_stated_once_and_shown_to_students(tree):
    _, chapters, notebooks = tree
    for chapter in chapters:
        total = sum(expected_points(ex.module, ex.name) for ex in chapter.exercises)
        intro = notebooks[chapter.name].cells[0].source
        assert f"共 {total:g} 分" in intro
        for ex in chapter.exercises:
            assert f"{ex.title}（{expected_points(ex.module, ex.name):g} 分）" in intro
    overridden = {ex.name for ch in chapters for ex in ch.exercises
                  if ex.points != config.ASSIGNMENT_DEFAULT_POINTS}
    assert overridden, "the points table's overrides reach no exercise"


def test_an_assignment_is_the_exercise_section_plus_the_cells_it_needs(tree):
    _, chapters, notebooks = tree
    for chapter in chapters:
        nb = notebooks[chapter.name]
        sources = [c.source for c in nb.cells if c.cell_type == "code"]
        setup = chapter.nb.cells[chapter.setup_cell].source
        assert sources[0] == setup, "the setup cell comes first"
        from_text = [chapter.nb.cells[i].source for i in chapter.dependencies]
        assert sources[1:1 + len(from_text)] == from_text
        chapter_code = [c for c in chapter.nb.cells if c.cell_type == "code"]
        assert len(sources) < len(chapter_code), f"{chapter.name}: the whole chapter was copied"
        assert not any("colab-badge" in c.metadata.get("tags", []) for c in nb.cells)  # it links to the teachers' edition
        assert not any("solution" in c.metadata.get("tags", []) for c in nb.cells)


def test_assignment_code_defines_every_name_it_uses(tree):
    """pyflakes, independently of the tool's own analysis: the code cells of an assignment, run top to
    bottom, leave no name undefined (else every submission would fail with a NameError)."""
    from pyflakes import api, messages, reporter

    _, chapters, notebooks = tree
    for chapter in chapters:
        cells = [c.source for c in notebooks[chapter.name].cells if c.cell_type == "code"]
        found = []

        class Collect(reporter.Reporter):
            def flake(self, message):
                if isinstance(message, messages.UndefinedName):
                    found.append(str(message))

        api.check("\n\n".join(cells), chapter.name, Collect(io.StringIO(), io.StringIO()))
        assert not found, f"{chapter.name}: {found}"


def test_no_reference_answer_survives_outside_the_solution_blocks(tree):
    """What nbgrader releases: the answer cells with their blocks replaced, everything else as is."""
    _, chapters, notebooks = tree
    for chapter in chapters:
        secrets = secret_lines(chapter.nb)
        assert secrets, f"{chapter.name}: no reference answer to look for"
        released = []
        for cell in notebooks[chapter.name].cells:
            source = cell.source
            if nbg(cell)["solution"]:
                source, blocks = student.strip_code(source, chapter.name)
                assert blocks >= 1
            else:  # nbgrader refuses a solution region in any other cell
                assert "BEGIN SOLUTION" not in source and "END SOLUTION" not in source
            released.append(source)
        text = "\n".join(released)
        assert [s for s in secrets if s in text] == []


def test_the_command_is_deterministic_and_rewrites_nothing_that_did_not_change(tree, tmp_path):
    out, _, _ = tree
    again = tmp_path / "again"
    assert assignments.main(["--out", str(again)]) == 0
    first = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    second = {p.relative_to(again): p.read_bytes() for p in again.rglob("*") if p.is_file()}
    assert first == second
    stamps = {p: p.stat().st_mtime_ns for p in again.rglob("*.ipynb")}
    assert assignments.main(["--out", str(again)]) == 0
    assert stamps == {p: p.stat().st_mtime_ns for p in again.rglob("*.ipynb")}


def test_nbgrader_config_sets_the_books_placeholder(tree):
    from traitlets.config import Config

    out, _, _ = tree
    cfg = Config()
    exec((out / "nbgrader_config.py").read_text(encoding="utf-8"), {"get_config": lambda: cfg})
    assert cfg.ClearSolutions.code_stub == {"python": "\n".join(student.PLACEHOLDER)}


# ---------------------------------------------------------------------------------------------
# Discovery rules, on small synthetic chapters


def test_dependencies_follow_names_through_functions_and_skip_the_rest(tmp_path):
    path = synthetic(tmp_path, [
        code("import math", cell_id="imports"),
        code("def helper(x):\n    return math.sqrt(x) * SCALE + offset(x)", cell_id="helper"),
        code("model = train_for_an_hour()  # never needed by the exercise", cell_id="heavy"),
        code("def offset(x):\n    return 0", cell_id="offset"),
        code("SCALE = 1\nSCALE = SCALE * 2", cell_id="scale"),
        code("print(SCALE)", cell_id="demo"),
        *exercise(),
    ])
    chapter = assignments.discover(path)
    ids = [chapter.nb.cells[i].id for i in chapter.dependencies]
    assert ids == ["imports", "helper", "offset", "scale"]


def test_a_name_read_at_once_needs_a_definition_before_it(tmp_path):
    path = synthetic(tmp_path, [
        code("y = 1", cell_id="old-y"),
        code("X_SCALE = y + 1", cell_id="x"),
        code("y = 100", cell_id="new-y"),
        *exercise(answer=ANSWER.replace("helper(x)", "v * X_SCALE + y").replace("(x)", "(v)")),
    ])
    chapter = assignments.discover(path)
    assert [chapter.nb.cells[i].id for i in chapter.dependencies] == ["old-y", "x", "new-y"]


def test_solution_demos_and_written_answers_are_left_out(tmp_path):
    path = synthetic(tmp_path, [
        code("def helper(x):\n    return 2 * x", cell_id="helper"),
        *exercise(),
        code("print(twice(3))  # 参考答案的演示", ["solution"], "demo"),
        md("思考题。\n<!-- BEGIN SOLUTION -->\n参考答案：秘密的推导。\n<!-- END SOLUTION -->\n", "written"),
        *exercise("99.2", ANSWER.replace("twice", "thrice"), CHECK.replace("twice", "thrice"), "y"),
    ])
    chapter = assignments.discover(path)
    assignments.assign_points([chapter], default=1, overrides={})
    nb, _ = assignments.assignment_notebook(chapter)
    text = "\n".join(c.source for c in nb.cells)
    assert "秘密的推导" not in text and "思考题" in text
    assert "参考答案的演示" not in text
    assert [ex.label for ex in chapter.exercises] == ["99.1", "99.2"]


def test_a_bare_check_call_still_fails_the_cell_when_wrong(tmp_path):
    path = synthetic(tmp_path, [code("def helper(x):\n    return 2 * x"),
                                *exercise(check="from d2l_exercises import ch99 as checks\nchecks.twice(twice)")])
    chapter = assignments.discover(path)
    assignments.assign_points([chapter], default=1, overrides={})
    nb, _ = assignments.assignment_notebook(chapter)
    test = next(c.source for c in nb.cells if nbg(c)["grade"])
    namespace = {}
    with pytest.raises(AssertionError, match="练习 99.1"):
        exec(test.replace("from d2l_exercises import ch99 as checks", ""),
             {"checks": type("C", (), {"twice": staticmethod(lambda f: False)}), "twice": None}, namespace)


@pytest.mark.parametrize("cells, message", [
    ([code("from d2l_exercises import ch99 as checks\nok = checks.twice(twice)", ["exercise"])],
     "has no answer cell before it"),
    ([code(ANSWER, ["exercise"])], "no check cell after it grades"),
    ([code("def helper(x):\n    return 2 * x"), *exercise(), *exercise(tag_id="again")], "called by 2 check cells"),
    ([*exercise()], "uses `helper`, which no cell before it defines"),
    ([code("def helper(x):\n    return 2 * x", ["solution"]), *exercise()], "uses `helper`"),
    ([code("def helper(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION"), *exercise()],
     "solution block outside the exercise section"),
    ([code("def helper(x):\n    return 2 * x"), *exercise(check=CHECK + "\nok2 = checks.twice(twice)")],
     "one check per check cell"),
])
def test_broken_chapters_get_an_error_that_says_what_to_do(tmp_path, cells, message):
    path = synthetic(tmp_path, cells)
    with pytest.raises(assignments.AssignmentError, match=re.escape(message)):
        chapter = assignments.discover(path)
        if chapter is not None:
            assignments.assign_points([chapter], default=1, overrides={})
            assignments.assignment_notebook(chapter)


def test_a_chapter_without_checks_has_no_assignment(tmp_path):
    assert assignments.discover(synthetic(tmp_path, [code("x = 1")])) is None


# ---------------------------------------------------------------------------------------------
# Points


@pytest.fixture
def two_chapters(tmp_path):
    helper = code("def helper(x):\n    return 2 * x")
    first = assignments.discover(synthetic(tmp_path, [helper, *exercise()], "98_a.ipynb"))
    second = assignments.discover(synthetic(tmp_path, [
        helper, *exercise(check=CHECK.replace("ch99", "ch97")),
        *exercise("97.2", ANSWER.replace("twice", "other"), CHECK.replace("twice", "other"), "y")],
        "97_b.ipynb"))
    return [first, second]


def test_points_come_from_the_default_and_the_overrides(two_chapters):
    assignments.assign_points(two_chapters, default=2, overrides={"ch97.twice": 5, "other": 0.5})
    assert [[ex.points for ex in ch.exercises] for ch in two_chapters] == [[2], [5, 0.5]]


@pytest.mark.parametrize("default, overrides, message", [
    (1, {"missing_check": 2}, "no chapter has a check of that name"),
    (1, {"twice": 2}, "matches 2 checks"),
    (1, {"other": -1}, "must be a number >= 0"),
    (1, {"other": True}, "must be a number >= 0"),
    ("1", {}, "ASSIGNMENT_DEFAULT_POINTS must be a number"),
])
def test_a_wrong_points_table_is_an_error(two_chapters, default, overrides, message):
    with pytest.raises(assignments.AssignmentError, match=re.escape(message)):
        assignments.assign_points(two_chapters, default=default, overrides=overrides)


def test_the_command_reports_a_stale_points_table(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(config, "ASSIGNMENT_POINTS", {"a_check_that_was_renamed": 2})
    assert assignments.main(["--out", str(tmp_path / "out")]) == 1
    assert "a_check_that_was_renamed" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------------------------------------
# Writing the tree: nothing a teacher had is lost


def test_a_changed_file_is_never_overwritten(tmp_path):
    out = tmp_path / "course"
    files = {"nbgrader_config.py": b"ours\n", "source/a/a.ipynb": b"v1"}
    assignments.write_tree(files, out)
    (out / "source/a/a.ipynb").write_bytes(b"edited by the teacher")
    with pytest.raises(assignments.AssignmentError, match="source/a/a.ipynb"):
        assignments.write_tree({**files, "source/a/a.ipynb": b"v2", "source/b/b.ipynb": b"new"}, out)
    assert (out / "source/a/a.ipynb").read_bytes() == b"edited by the teacher"
    assert not (out / "source/b").exists()  # nothing at all was written


def test_a_generated_file_is_updated_and_a_stale_one_removed(tmp_path):
    out = tmp_path / "course"
    assignments.write_tree({"nbgrader_config.py": b"c", "source/old/old.ipynb": b"1", "source/a/a.ipynb": b"1"}, out)
    result = assignments.write_tree({"nbgrader_config.py": b"c", "source/a/a.ipynb": b"2"}, out)
    assert (out / "source/a/a.ipynb").read_bytes() == b"2"
    assert result["removed"] == ["source/old/old.ipynb"] and not (out / "source/old").exists()


def test_a_teachers_own_nbgrader_config_is_kept(tmp_path):
    out = tmp_path / "course"
    out.mkdir()
    (out / "nbgrader_config.py").write_text("c = get_config()\nc.CourseDirectory.course_id = 'mine'\n")
    result = assignments.write_tree({"nbgrader_config.py": b"ours", "source/a/a.ipynb": b"1"}, out)
    assert result["kept"] == ["nbgrader_config.py"]
    assert "mine" in (out / "nbgrader_config.py").read_text()
    assert (out / "source/a/a.ipynb").read_bytes() == b"1"


def test_the_teachers_notebooks_are_never_the_output(tmp_path):
    for target in (assignments.NOTEBOOKS, assignments.NOTEBOOKS / "sub", assignments.ROOT):
        with pytest.raises(assignments.AssignmentError, match="teachers' notebooks"):
            assignments.write_tree({"x": b"1"}, target)


# ---------------------------------------------------------------------------------------------
# With nbgrader itself (installed by `make grading-test`; fast, nothing is executed)


def test_nbgrader_accepts_the_tree_and_its_release_holds_no_answer(tree):
    pytest.importorskip("nbgrader", reason="nbgrader is the [grading] extra: `make grading-test` runs this")
    from nbgrader.nbgraderformat import MetadataValidator
    from nbgrader.preprocessors import CheckCellMetadata, ClearSolutions, LockCells
    from traitlets.config import Config

    out, chapters, notebooks = tree
    cfg = Config()
    exec((out / "nbgrader_config.py").read_text(encoding="utf-8"), {"get_config": lambda: cfg})
    for chapter in chapters:
        nb = nbformat.from_dict(notebooks[chapter.name])
        MetadataValidator().validate_nb(nb)
        resources = {}
        for preprocessor in (LockCells(config=cfg), ClearSolutions(config=cfg), CheckCellMetadata(config=cfg)):
            nb, resources = preprocessor.preprocess(nb, resources)
        text = "\n".join(c.source for c in nb.cells)
        assert [s for s in secret_lines(chapter.nb) if s in text] == []
        blocks = sum(student.strip_code(chapter.nb.cells[i].source, chapter.name)[1]
                     for ex in chapter.exercises for i in ex.answer_cells)
        assert text.count(student.PLACEHOLDER[1]) == blocks
        assert all(c.metadata.get("editable") is False for c in nb.cells if nbg(c)["locked"])
