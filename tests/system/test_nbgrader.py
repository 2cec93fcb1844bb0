"""The nbgrader round trip of the book's assignments (slow: `make grading-test`, not part of `make test`).

In a temporary course directory with nbgrader's default embedded database (SQLite, no server):

1. ``python -m booktools.assignments --out COURSE`` writes the source tree from ``notebooks/``;
2. ``nbgrader generate_assignment "*"`` makes the student versions (``release/``) of every chapter;
3. three "students" hand in every assignment (``submitted/<student>/<chapter>/``):

   * ``teacher``: the teachers' edition as the tree holds it (the reference answers) — full marks;
   * ``student``: the released version untouched (the placeholders) — zero;
   * ``planted``: the released version with the reference answers typed in, except one exercise per
     chapter (the one worth most points, the first of equals) whose solution blocks are replaced by
     ``return None`` — it loses exactly that exercise's points, and its test cell shows the check's
     ✗ explanation and one short assertion, not a traceback wall;

4. ``nbgrader autograde "*"`` grades them (the submissions are split over ``D2L_NBGRADER_JOBS``
   copies of the course directory, default 2, each autograded by its own process);
5. the scores are read from the gradebooks with ``nbgrader.api.Gradebook``, and the released
   notebooks are searched for any line of the reference answers.

Run: ``D2L_NBGRADER_TEST=1 python -m pytest -p no:xdist -s tests/system/test_nbgrader.py``
(``make grading-test``). The timings are printed; ``D2L_NBGRADER_KEEP=1`` keeps the course directory.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest

from booktools import assignments, student

ROOT = Path(__file__).resolve().parents[2]
STUDENTS = ("teacher", "student", "planted")
JOBS = max(1, int(os.environ.get("D2L_NBGRADER_JOBS", "2")))
CELL_TIMEOUT = 300  # nbgrader's default (30 s a cell) is too tight for a kernel importing torch on a loaded CI machine
TRACEBACK_LINES = 12  # a failed check cell shows its AssertionError in at most this many lines

pytestmark = pytest.mark.skipif(
    os.environ.get("D2L_NBGRADER_TEST") != "1",
    reason="slow nbgrader round trip (executes every assignment three times): run `make grading-test`")


def log(message: str) -> None:
    print(f"[nbgrader] {message}", flush=True)


def run(args, env, cwd, timeout=1200) -> subprocess.CompletedProcess:
    result = subprocess.run([str(a) for a in args], env=env, cwd=cwd, capture_output=True, text=True,
                            timeout=timeout)
    if result.returncode != 0 or "[ERROR]" in result.stderr or "| ERROR]" in result.stderr:
        pytest.fail(f"command failed ({result.returncode}): {' '.join(map(str, args))}\n"
                    f"stdout:\n{result.stdout[-3000:]}\nstderr:\n{result.stderr[-6000:]}")
    return result


def solution_blocks(source: str) -> list[list[str]]:
    """The lines inside each ``### BEGIN SOLUTION`` … ``### END SOLUTION`` block of a cell."""
    blocks, current = [], None
    for line in source.split("\n"):
        if line.strip() == student.BEGIN:
            current = []
        elif line.strip() == student.END:
            blocks.append(current)
            current = None
        elif current is not None:
            current.append(line)
    return blocks


def plant_wrong_answer(source: str) -> str:
    """The answer cell with every solution block replaced by ``return None`` (a wrong, runnable answer)."""
    out, inside = [], False
    for line in source.split("\n"):
        if line.strip() == student.BEGIN:
            indent = line[:len(line) - len(line.lstrip())]
            out.append(indent + ("return None  # 故意答错" if indent else "pass  # 故意答错"))
            inside = True
        elif line.strip() == student.END:
            inside = False
        elif not inside:
            out.append(line)
    return "\n".join(out)


def nbgrader_meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


@pytest.fixture(scope="module")
def course():
    keep = os.environ.get("D2L_NBGRADER_KEEP") == "1"
    tmp = Path(tempfile.mkdtemp(prefix="nbgrader-course-"))
    log(f"working in {tmp}" + (" (kept afterwards)" if keep else ""))
    try:
        env = dict(os.environ)
        # nbgrader runs the `alembic` command when it creates a gradebook: the venv's bin first.
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        env.setdefault("OMP_NUM_THREADS", "1")
        env["MPLBACKEND"] = "Agg"
        times, cpu = {}, {}
        home = tmp / "course"
        nbgrader = [sys.executable, "-m", "nbgrader"]

        def timed(name, func):
            start, before = time.perf_counter(), os.times()
            result = func()
            after = os.times()
            times[name] = time.perf_counter() - start
            cpu[name] = (after.children_user + after.children_system) - (before.children_user + before.children_system)
            return result

        timed("source tree", lambda: run([sys.executable, "-m", "booktools.assignments", "--out", home], env, ROOT))
        chapters = assignments.plan()
        timed("generate_assignment", lambda: run(nbgrader + ["generate_assignment", "*"], env, home))

        planted = {}
        for chapter in chapters:
            name = chapter.name
            source = nbformat.read(home / "source" / name / f"{name}.ipynb", as_version=4)
            release = nbformat.read(home / "release" / name / f"{name}.ipynb", as_version=4)
            target = max(chapter.exercises, key=lambda ex: ex.points)  # the first of the most valuable
            planted[name] = target
            answers = {nbgrader_meta(c)["grade_id"]: c.source for c in source.cells if nbgrader_meta(c).get("solution")}
            wrong_ids = set(target.answer_ids)
            assert wrong_ids <= set(answers), f"{name}: the answer cells of {target.key} are not in the source tree"
            filled = nbformat.from_dict(release)
            for cell in filled.cells:  # what a student does: type an answer into each answer cell
                grade_id = nbgrader_meta(cell).get("grade_id")
                if nbgrader_meta(cell).get("solution"):
                    cell.source = plant_wrong_answer(answers[grade_id]) if grade_id in wrong_ids else answers[grade_id]
            for who, nb in (("teacher", source), ("student", release), ("planted", filled)):
                folder = home / "submitted" / who / name
                folder.mkdir(parents=True)
                nbformat.write(nb, folder / f"{name}.ipynb")

        # Autograde: each job gets a copy of the course directory (its own gradebook) with a share of
        # the submissions, so that two processes never write to one SQLite file.
        pairs = [(who, ch.name) for ch in chapters for who in STUDENTS]
        shares = [pairs[k::JOBS] for k in range(JOBS)]
        homes = []
        for k, share in enumerate(shares):
            copy = tmp / f"grader{k}"
            shutil.copytree(home, copy)
            for who, name in pairs:
                if (who, name) not in share:
                    shutil.rmtree(copy / "submitted" / who / name)
            homes.append(copy)

        def autograde(copy):
            return run(nbgrader + ["autograde", "*", f"--Execute.timeout={CELL_TIMEOUT}"], env, copy)

        timed("autograde", lambda: list(ThreadPoolExecutor(JOBS).map(autograde, homes)))
        from nbgrader.api import Gradebook  # only here: `make test` does not install nbgrader

        scores = {}
        for copy in homes:
            with Gradebook(f"sqlite:///{copy / 'gradebook.db'}") as gb:
                for who, name in pairs:
                    try:
                        submission = gb.find_submission_notebook(name, name, who)
                    except Exception:  # MissingEntry: not in this copy's share
                        continue
                    scores[who, name] = SimpleNamespace(
                        score=submission.score, max_score=submission.max_score,
                        cells={g.name: (g.score, g.max_score) for g in submission.grades})
        total_cpu = sum(cpu.values())
        log(f"{len(chapters)} assignments, {len(pairs)} submissions; " + ", ".join(
            f"{k} {times[k]:.1f} s wall / {cpu[k]:.1f} s CPU" for k in times)
            + f"; total {sum(times.values()):.1f} s wall, {total_cpu:.1f} s CPU (timings vary with the machine's load)")
        yield SimpleNamespace(home=home, homes=homes, chapters=chapters, planted=planted, scores=scores)
    finally:
        if not keep:
            shutil.rmtree(tmp, ignore_errors=True)


def test_generate_assignment_releases_every_chapter(course):
    released = sorted(p.parent.name for p in (course.home / "release").glob("*/*.ipynb"))
    assert released == sorted(ch.name for ch in course.chapters)
    assert len(released) >= 1


def test_released_versions_hold_no_solution_text(course):
    """No line of any reference answer (solution blocks, solution cells, markdown answers) is released."""
    for chapter in course.chapters:
        text = (course.home / "release" / chapter.name / f"{chapter.name}.ipynb").read_text(encoding="utf-8")
        released = "\n".join(c.source for c in nbformat.reads(text, as_version=4).cells)
        secrets = []
        for cell in chapter.nb.cells:
            for block in solution_blocks(cell.source):
                secrets += [line.strip() for line in block]
            if "solution" in cell.get("metadata", {}).get("tags", []):
                secrets += [line.strip() for line in cell.source.split("\n")]
            for answer in re.findall(re.escape(student.MD_BEGIN) + "(.*?)" + re.escape(student.MD_END),
                                     cell.source, re.S):
                secrets += [line.strip() for line in answer.split("\n")]
        public, _ = student.student_notebook(chapter.nb)  # a line the chapter also shows to students is no secret
        public_text = "\n".join(c.source for c in public.cells)
        secrets = [s for s in secrets if len(s) >= 12 and not s.startswith("#") and s not in public_text]
        assert secrets, f"{chapter.name}: found no reference answer to look for"
        leaked = [s for s in secrets if s in released]
        assert not leaked, f"{chapter.name}: the released version still holds {leaked[:3]}"
        assert "BEGIN SOLUTION" not in released and "END SOLUTION" not in released
        assert student.PLACEHOLDER[1] in released  # the stub from the course's nbgrader_config.py


def test_teachers_edition_gets_full_marks(course):
    for chapter in course.chapters:
        result = course.scores["teacher", chapter.name]
        expected = sum(ex.points for ex in chapter.exercises)
        assert result.max_score == pytest.approx(expected), f"{chapter.name}: points in the gradebook"
        assert result.score == pytest.approx(expected), f"{chapter.name}: {result.cells}"


def test_released_student_version_gets_zero(course):
    for chapter in course.chapters:
        result = course.scores["student", chapter.name]
        assert result.max_score > 0
        assert result.score == 0, f"{chapter.name}: {result.cells}"


def test_one_planted_wrong_answer_loses_exactly_its_points(course):
    for chapter in course.chapters:
        target = course.planted[chapter.name]
        result = course.scores["planted", chapter.name]
        assert result.score == pytest.approx(result.max_score - target.points), f"{chapter.name}: {result.cells}"
        for grade_id, (score, max_score) in result.cells.items():
            expected = 0 if grade_id == target.test_id else max_score
            assert score == pytest.approx(expected), f"{chapter.name}: {grade_id} got {score} of {max_score}"


def test_failed_check_explains_without_a_traceback_wall(course):
    """The graded cell of the planted answer prints the check's ✗ line and one short AssertionError."""
    for chapter in course.chapters:
        target = course.planted[chapter.name]
        for copy in course.homes:
            path = copy / "autograded" / "planted" / chapter.name / f"{chapter.name}.ipynb"
            if path.exists():
                break
        nb = nbformat.read(path, as_version=4)
        cell = next(c for c in nb.cells if nbgrader_meta(c).get("grade_id") == target.test_id)
        stdout = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream" and o.name == "stdout")
        errors = [o for o in cell.outputs if o.output_type == "error"]
        assert stdout.lstrip().startswith("✗"), f"{chapter.name}: {stdout!r}"
        assert [e.ename for e in errors] == ["AssertionError"], f"{chapter.name}: {errors}"
        lines = "\n".join(errors[0].traceback).count("\n") + 1
        assert lines <= TRACEBACK_LINES, f"{chapter.name}: a traceback of {lines} lines"
        assert target.title in errors[0].evalue


def test_gradebook_points_match_the_points_table(course):
    """The points nbgrader stores are the ones booktools/config.py gives (default and overrides)."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course.homes[0] / 'gradebook.db'}") as gb:
        for chapter in course.chapters:
            notebook = gb.find_notebook(chapter.name, chapter.name)
            stored = {cell.name: cell.max_score for cell in notebook.grade_cells}
            assert stored == {ex.test_id: pytest.approx(ex.points) for ex in chapter.exercises}
    manifest = json.loads((course.home / assignments.MANIFEST).read_text(encoding="utf-8"))
    assert "nbgrader_config.py" in manifest["files"]
