"""booktools.build: what it stores and what it refuses, on tiny notebooks run in a real kernel."""
from __future__ import annotations

import nbformat
import pytest

from booktools import build


def write(path, *sources, tags=None):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(s, metadata={"tags": tags or []}) for s in sources]
    nbformat.write(nb, path)
    return path


def test_execute_stores_outputs_with_counts_and_merged_streams(tmp_path):
    path = write(tmp_path / "01_a.ipynb", "import sys, time\nfor i in range(3):\n    print(i, flush=True)\n    time.sleep(0.05)",
                 "1 + 1")
    build.execute(path)
    nb = nbformat.read(path, as_version=4)
    assert [c.execution_count for c in nb.cells] == [1, 2]
    assert [o.output_type for o in nb.cells[0].outputs] == ["stream"]
    assert nb.cells[0].outputs[0].text == "0\n1\n2\n"
    assert nb.cells[1].outputs[0].data["text/plain"] == "2"
    assert "execution" not in nb.cells[0].metadata  # no timestamps: rebuilds are byte-stable


def test_a_warning_fails_the_build_and_leaves_the_notebook_as_it_was(tmp_path):
    path = write(tmp_path / "01_a.ipynb", "import warnings\nwarnings.warn('careful')")
    before = path.read_bytes()
    with pytest.raises(build.BuildError, match="stderr.*careful"):
        build.execute(path)
    assert path.read_bytes() == before


def test_tagged_stderr_is_allowed(tmp_path):
    path = write(tmp_path / "01_a.ipynb", "import sys\nprint('expected', file=sys.stderr)", tags=["nbval-ignore-stderr"])
    build.execute(path)
    assert nbformat.read(path, as_version=4).cells[0].outputs[0].name == "stderr"


def test_an_error_fails_the_build_and_leaves_the_notebook_as_it_was(tmp_path):
    path = write(tmp_path / "01_a.ipynb", "print('ok')", "1 / 0")
    before = path.read_bytes()
    with pytest.raises(build.BuildError, match="ZeroDivisionError"):
        build.execute(path)
    assert path.read_bytes() == before


def test_execute_keeps_the_file_mode(tmp_path):
    path = write(tmp_path / "01_a.ipynb", "1")
    path.chmod(0o644)
    build.execute(path)
    assert path.stat().st_mode & 0o777 == 0o644


def test_an_edit_made_while_the_notebook_runs_is_not_overwritten(tmp_path):
    # The running cell edits its own notebook file, as an editor (or `make stamp`) would meanwhile.
    path = write(tmp_path / "01_a.ipynb",
                 "import pathlib\n"
                 "p = pathlib.Path('01_a.ipynb')\n"
                 "p.write_text(p.read_text(encoding='utf-8').replace('EDIT_ME', 'EDITED'), encoding='utf-8')",
                 "'EDIT_ME'")
    with pytest.raises(build.BuildError, match="changed on disk while it ran"):
        build.execute(path)
    nb = nbformat.read(path, as_version=4)
    assert nb.cells[1].source == "'EDITED'", "the edit made during the run is kept"
    assert all(c.execution_count is None for c in nb.cells), "no outputs were written over it"


def test_building_prints_no_kernel_warnings_a_newcomer_would_take_for_errors(tmp_path):
    """ipykernel warns about unencrypted TCP, and about its parent exiting when it is not shut down:
    the build uses IPC sockets and shuts the kernel down, so its output is only the build's own."""
    import subprocess
    import sys

    path = write(tmp_path / "01_a.ipynb", "print('ok')")
    code = f"from pathlib import Path; from booktools import build; build.execute(Path({str(path)!r}))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=build.ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stderr == "" and result.stdout == ""
    assert nbformat.read(path, as_version=4).cells[0].outputs[0].text == "ok\n"
