"""booktools.student: the student edition strips solutions, keeps everything else, and refuses bad input."""
from __future__ import annotations

import hashlib

import nbformat
import pytest

from booktools import student

SCAFFOLD = '''\
def masked_mean(X, valid_len):
    """Mean of the first valid_len[i] entries of row i."""
    ### BEGIN SOLUTION
    mask = torch.arange(X.shape[1])[None, :] < valid_len[:, None]
    return (X * mask).sum(dim=1) / valid_len
    ### END SOLUTION'''


def make_notebook(path, cells):
    nb = nbformat.v4.new_notebook()
    nb.cells = cells
    nbformat.write(nb, path)
    return path


def code(source, tags=(), outputs=None, count=1):
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": list(tags)}, execution_count=count)
    cell.outputs = outputs or []
    return cell


def stdout(text):
    return nbformat.v4.new_output("stream", name="stdout", text=text)


def test_solution_block_becomes_a_placeholder_at_the_same_indentation():
    stripped, blocks = student.strip_code(SCAFFOLD, "nb")
    assert blocks == 1
    lines = stripped.split("\n")
    assert lines[:2] == ["def masked_mean(X, valid_len):", '    """Mean of the first valid_len[i] entries of row i."""']
    assert lines[2:] == ["    " + p for p in student.PLACEHOLDER]
    assert "torch.arange" not in stripped and "BEGIN" not in stripped
    namespace = {}
    exec(stripped, namespace)  # still valid Python, and calling it says "not done yet"
    with pytest.raises(NotImplementedError):
        namespace["masked_mean"](None, None)


def test_two_blocks_and_code_outside_them_are_kept():
    source = "x = 1\n### BEGIN SOLUTION\ny = 2\n### END SOLUTION\nz = 3\nif x:\n    ### BEGIN SOLUTION\n    w = 4\n    ### END SOLUTION\n"
    stripped, blocks = student.strip_code(source, "nb")
    assert blocks == 2
    assert "x = 1" in stripped and "z = 3" in stripped and "y = 2" not in stripped and "w = 4" not in stripped
    compile(stripped, "cell", "exec")


@pytest.mark.parametrize("source, message", [
    ("### BEGIN SOLUTION\nx = 1\n", "never closed"),
    ("x = 1\n### END SOLUTION\n", "without a `### BEGIN SOLUTION`"),
    ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION\n", "inside another"),
    ("x = 1  ### BEGIN SOLUTION\n", "alone on its line"),
])
def test_unbalanced_or_misplaced_markers_are_errors_that_name_the_cell(source, message):
    with pytest.raises(student.StudentEditionError, match=message) as info:
        student.strip_code(source, "notebooks/05_x.ipynb, cell 7")
    assert "notebooks/05_x.ipynb, cell 7" in str(info.value)


def test_markdown_answers_are_removed():
    source = "1. 题目\n<!-- BEGIN SOLUTION -->\n**参考答案**：42\n<!-- END SOLUTION -->\n2. 下一题"
    stripped, blocks = student.strip_markdown(source, "nb")
    assert blocks == 1 and stripped == "1. 题目\n2. 下一题"
    with pytest.raises(student.StudentEditionError, match="unbalanced"):
        student.strip_markdown("<!-- BEGIN SOLUTION -->\nanswer", "nb")


def test_student_notebook_clears_exercise_outputs_and_keeps_the_rest(tmp_path):
    cells = [
        nbformat.v4.new_markdown_cell("# 5. 标题"),
        code("print('chapter')", outputs=[stdout("chapter\n")], count=1),
        code(SCAFFOLD, tags=["exercise"], count=2),
        code("ok = checks.masked_mean(masked_mean)", tags=["exercise"], outputs=[stdout("✓ 练习\n")], count=3),
        code("print(masked_mean(X, L))", tags=["solution"], outputs=[stdout("tensor\n")], count=4),
    ]
    nb = nbformat.v4.new_notebook()
    nb.cells = cells
    before = nbformat.writes(nb)
    edition, removed = student.student_notebook(nb, "nb")
    assert nbformat.writes(nb) == before, "the teachers' notebook object is not modified"
    assert removed == 2  # one code block + one solution cell
    assert len(edition.cells) == 4
    kept = edition.cells[1]
    assert kept.outputs[0].text == "chapter\n" and kept.execution_count == 1
    assert "nbval-ignore-output" not in kept.metadata.get("tags", [])
    for cell in edition.cells[2:]:
        assert cell.outputs == [] and cell.execution_count is None
        assert "nbval-ignore-output" in cell.metadata["tags"]
    assert edition.metadata["book_edition"] == "student"
    nbformat.validate(edition)


def test_make_edition_writes_notebooks_and_images_and_leaves_the_source_alone(tmp_path):
    source = make_notebook(tmp_path / "05_x.ipynb", [code(SCAFFOLD, tags=["exercise"])])
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    counts = student.make_edition([source], tmp_path / "out")
    assert counts == {"05_x.ipynb": 1}
    written = nbformat.read(tmp_path / "out" / "notebooks" / "05_x.ipynb", as_version=4)
    assert "NotImplementedError" in written.cells[0].source
    assert (tmp_path / "out" / "images").is_dir()
    assert hashlib.sha256(source.read_bytes()).hexdigest() == digest


def test_refuses_to_write_over_the_teachers_notebooks(tmp_path):
    source = make_notebook(tmp_path / "05_x.ipynb", [code(SCAFFOLD)])
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    (tmp_path / "notebooks").mkdir()
    with pytest.raises(student.StudentEditionError, match="overwrite the teachers' notebooks"):
        student.make_edition([source], tmp_path.parent / tmp_path.name)
    with pytest.raises(student.StudentEditionError, match="overwrite"):
        student.make_edition([source], student.NOTEBOOKS.parent)  # would write into the repo's notebooks/
    assert hashlib.sha256(source.read_bytes()).hexdigest() == digest


def test_a_bad_notebook_writes_nothing(tmp_path):
    good = make_notebook(tmp_path / "01_good.ipynb", [code(SCAFFOLD)])
    bad = make_notebook(tmp_path / "02_bad.ipynb", [code("### BEGIN SOLUTION\nx = 1")])
    out = tmp_path / "out"
    assert student.main([str(good), str(bad), "--out", str(out)]) == 1
    assert not (out / "notebooks" / "01_good.ipynb").exists()
    broken = tmp_path / "03_broken.ipynb"
    broken.write_text("{not json")
    with pytest.raises(student.StudentEditionError, match="not a readable notebook"):
        student.make_edition([broken], out)


def test_the_books_student_edition_has_no_solution_left(tmp_path):
    counts = student.make_edition(sorted(student.NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")), tmp_path)
    assert len(counts) >= 12
    for path in (tmp_path / "notebooks").glob("*.ipynb"):
        text = path.read_text(encoding="utf-8")
        assert "BEGIN SOLUTION" not in text and "END SOLUTION" not in text, path.name


# --- no answer leaks, whatever the marker looks like (issue 13) ----------------------------------

@pytest.mark.parametrize("source", [
    "def f():\n    ### Begin Solution\n    return 1\n    ### End Solution",
    "def f():\n    ###BEGIN SOLUTION\n    return 1\n    ###END SOLUTION",
    "def f():\n    # BEGIN SOLUTION\n    return 1\n    # END SOLUTION",
    "def f():\n    ### BEGIN SOLUTION  (teachers only)\n    return 1\n    ### END SOLUTION",
    "def f():\n    return 1  ### BEGIN SOLUTION",
])
def test_code_marker_variants_are_refused_not_published(tmp_path, source):
    path = make_notebook(tmp_path / "05_x.ipynb", [nbformat.v4.new_markdown_cell("# 5. x"), code(source)])
    with pytest.raises(student.StudentEditionError, match=r"05_x\.ipynb, cell 1.*looks like a solution marker"):
        student.make_edition([path], tmp_path / "out")
    assert not (tmp_path / "out" / "notebooks" / "05_x.ipynb").exists()


@pytest.mark.parametrize("text", [
    "答案：\n<!--BEGIN SOLUTION-->\n秘密\n<!--END SOLUTION-->",
    "答案：\n<!-- Begin Solution -->\n秘密\n<!-- End Solution -->",
    "答案：\n### BEGIN SOLUTION\n秘密\n### END SOLUTION",
])
def test_markdown_marker_variants_are_refused_not_published(tmp_path, text):
    cell = nbformat.v4.new_markdown_cell(text)
    cell.id = "answer-1"
    path = make_notebook(tmp_path / "05_x.ipynb", [cell])
    with pytest.raises(student.StudentEditionError, match=r"05_x\.ipynb, cell 0 \(id answer-1\).*looks like a solution"):
        student.make_edition([path], tmp_path / "out")


def test_cells_tagged_solution_are_removed_whatever_their_type(tmp_path):
    cells = [nbformat.v4.new_markdown_cell("# 5. x"),
             nbformat.v4.new_markdown_cell("秘密的答案（markdown）", metadata={"tags": ["solution"]}),
             nbformat.v4.new_raw_cell("秘密的答案（raw）", metadata={"tags": ["solution"]}),
             code("print('秘密的答案（code）')", tags=["solution"]),
             code("print('留下')")]
    path = make_notebook(tmp_path / "05_x.ipynb", cells)
    assert student.make_edition([path], tmp_path / "out") == {"05_x.ipynb": 3}
    text = (tmp_path / "out" / "notebooks" / "05_x.ipynb").read_text(encoding="utf-8")
    assert "秘密" not in text and "留下" in text


def test_a_raw_cell_with_a_marker_is_refused(tmp_path):
    path = make_notebook(tmp_path / "05_x.ipynb", [nbformat.v4.new_raw_cell("### BEGIN SOLUTION\nx = 1\n### END SOLUTION")])
    with pytest.raises(student.StudentEditionError, match=r"cell 0.*raw cell with a solution marker.*tag the cell `solution`"):
        student.make_edition([path], tmp_path / "out")


@pytest.mark.parametrize("mode", [0o644, 0o664, 0o600])
def test_the_student_edition_keeps_each_source_notebooks_mode(tmp_path, mode):
    path = make_notebook(tmp_path / "05_x.ipynb", [code(SCAFFOLD)])
    path.chmod(mode)
    student.make_edition([path], tmp_path / "out")
    assert (tmp_path / "out" / "notebooks" / "05_x.ipynb").stat().st_mode & 0o777 == mode
