"""booktools.stability: reading nbval's junit reports and reporting cells that ever differed."""
from __future__ import annotations

from booktools import stability

JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" tests="5">
  <testcase classname="notebooks.01_a.ipynb" name="Cell 1" time="0.1"/>
  <testcase classname="notebooks.01_a.ipynb" name="Cell 2" time="0.1">
    <failure message="Cell outputs differ&#10;details">trace</failure></testcase>
  <testcase classname="notebooks.02_b.ipynb" name="Cell 0" time="0.1"><skipped message="skip"/></testcase>
  <testcase classname="notebooks.02_b.ipynb" name="Cell 1" time="0.1"><error message="kernel died"/></testcase>
  <testcase classname="tests.test_x" name="test_unit" time="0.1"/>
</testsuite></testsuites>"""


def test_parse_junit_counts_compared_cells_and_failures(tmp_path):
    path = tmp_path / "run.xml"
    path.write_text(JUNIT)
    cells, failures = stability.parse_junit(path)
    assert cells == 3  # skipped cells and unit tests are not compared cells
    assert failures == {"notebooks.01_a.ipynb::Cell 2": "Cell outputs differ",
                        "notebooks.02_b.ipynb::Cell 1": "kernel died"}


def test_report_lists_every_cell_that_ever_failed_with_its_runs():
    runs = [stability.RunResult(10, 40, {}),
            stability.RunResult(11, 40, {"nb.ipynb::Cell 3": "Cell outputs differ"}),
            stability.RunResult(12, 40, {"nb.ipynb::Cell 3": "Cell outputs differ", "nb.ipynb::Cell 5": "x"})]
    text = stability.report(runs)
    assert "| nb.ipynb::Cell 3 | 2, 3 of 3 | Cell outputs differ |" in text
    assert "| nb.ipynb::Cell 5 | 3 of 3 | x |" in text
    assert "| 1 | 10 | 40 | 0 |" in text


def test_report_says_so_when_all_runs_matched():
    text = stability.report([stability.RunResult(10, 40, {}) for _ in range(3)])
    assert "Every cell matched its stored output on all 3 runs." in text
