"""Colab, simulated as far as this machine allows (slow: `make colab-test`, not part of `make test`).

1. A fresh venv in a temporary folder gets what a Colab runtime already has: torch (``TORCH_SPEC``,
   default ``torch==2.13.0``: the local CPU wheel), numpy, matplotlib, ipykernel, nbclient.
2. The working tree as it is on disk (tracked and untracked, not ignored, files: uncommitted work
   included) is committed into a temporary git repository. git is told to fetch the book's REPO_URL
   from there (``url.<file://…>.insteadOf``), and pip runs with ``PIP_NO_INDEX`` (it may only take
   the build backend, setuptools, from a local folder), so nothing below touches the network.
3. ``test_install_command_…``: EXACTLY the pip command of the stamped setup cell (read from the
   notebook, byte for byte, URL included) installs d2l_local and d2l_exercises and leaves every
   package that was there, torch, numpy and matplotlib first of all, untouched (same versions, same
   files, same mtimes).
4. ``test_chapter_runs_…``: with d2l_local uninstalled again and a fake ``google.colab`` module in the
   kernel (an IPython startup file, as Colab's kernel imports google.colab), one chapter
   (``D2L_COLAB_CHAPTER``, default 01) runs top to bottom with nbclient; its setup cell takes the
   Colab branch and installs d2l_local itself, imports it in the same kernel, and a second run of the
   setup cell does not call pip.
5. ``test_requirements_txt_…``: ``pip install -r requirements.txt`` (what a reader runs for their
   own Jupyter) installs the book and leaves torch, numpy and matplotlib exactly as they were.
6. ``test_why_no_deps``: what the lower-bound alternative (the same command without ``--no-deps``)
   would do on a runtime whose packages do not satisfy torch's own metadata (Colab installs torch
   without its nvidia-* requirements, googlecolab/colabtools#4491): pip would go and fetch them.

Run: ``D2L_COLAB_TEST=1 python -m pytest -p no:xdist -s tests/system`` (``make colab-test``). The
timings are printed. ``D2L_COLAB_KEEP=1`` keeps the temporary folder for a look afterwards.
"""
from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest

from booktools import config, stamp

ROOT = Path(__file__).resolve().parents[2]
CHAPTER = os.environ.get("D2L_COLAB_CHAPTER", "01_encoder_decoder.ipynb")
TORCH_SPEC = os.environ.get("TORCH_SPEC", "torch==2.13.0")
COLAB_PREINSTALLED = ["numpy", "matplotlib", "ipykernel", "nbclient"]
PROTECTED = ["torch", "numpy", "matplotlib"]
# What the setup cell installs (with --no-deps): the book, and the two pure-Python packages chapters
# 17 and 18 need that Colab lacks (they have no dependencies of their own).
BOOK_PACKAGES = ["d2l-local", "jieba", "opencc-python-reimplemented"]

pytestmark = pytest.mark.skipif(
    os.environ.get("D2L_COLAB_TEST") != "1",
    reason="slow Colab simulation (builds a venv with torch, a few minutes): run `make colab-test`")


def log(message: str) -> None:
    print(f"[colab-sim] {message}", flush=True)


def run(args, env, cwd=None, check=True, timeout=1200) -> subprocess.CompletedProcess:
    result = subprocess.run([str(a) for a in args], env=env, cwd=cwd, capture_output=True, text=True,
                            timeout=timeout)
    if check and result.returncode != 0:
        pytest.fail(f"command failed ({result.returncode}): {' '.join(map(str, args))}\n"
                    f"stdout:\n{result.stdout[-3000:]}\nstderr:\n{result.stderr[-3000:]}")
    return result


def working_tree_repo(target: Path) -> str:
    """Commit the working tree as it is on disk into a new git repository; return its commit id."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=ROOT, capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():  # a tracked file deleted on disk is not part of what is on disk
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    git = ["git", "-C", str(target), "-c", "user.name=colab-sim", "-c", "user.email=colab-sim@localhost",
           "-c", "commit.gpgsign=false"]
    subprocess.run(["git", "init", "-q", "-b", config.REPO_BRANCH, str(target)], check=True)
    subprocess.run(git + ["add", "-A"], check=True)
    subprocess.run(git + ["commit", "-q", "-m", "working tree for the Colab simulation"], check=True)
    return subprocess.run(git + ["rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()


SNAPSHOT = textwrap.dedent("""\
    import importlib.metadata as md, json, os
    out = {}
    for dist in md.distributions():
        files = {}
        for f in dist.files or []:
            try:
                st = os.stat(dist.locate_file(f))
                files[str(f)] = [st.st_mtime_ns, st.st_size]
            except OSError:
                files[str(f)] = None
        out[dist.metadata["Name"].lower().replace("_", "-")] = {"version": dist.version, "files": files}
    print(json.dumps(out))
""")

RUN_NOTEBOOK = textwrap.dedent("""\
    import json, sys, time
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError
    source, target, cwd = sys.argv[1:4]
    nb = nbformat.read(source, as_version=4)
    client = NotebookClient(nb, timeout=900, kernel_name="python3", record_timing=True,
                            resources={"metadata": {"path": cwd}})
    start = time.perf_counter()
    error = None
    try:
        client.execute()
    except CellExecutionError as exc:
        error = str(exc)
    seconds = time.perf_counter() - start
    nbformat.write(nb, target)
    print(json.dumps({"seconds": seconds, "error": error}))
""")

FAKE_COLAB = textwrap.dedent("""\
    # Colab's kernel has google.colab imported; the book's setup cell looks for exactly that.
    import sys, types
    sys.modules.setdefault("google", types.ModuleType("google"))
    sys.modules["google.colab"] = types.ModuleType("google.colab")
""")


def pip_command_of_setup_cell(notebook: Path, python: Path) -> list[str]:
    """The argument list of the setup cell's ``subprocess.run([...])``, ``sys.executable`` -> ``python``."""
    nb = nbformat.read(notebook, as_version=4)
    found = stamp.problems(nb, notebook.name)
    assert not found, f"{notebook.name} is not stamped: {found}"
    tree = ast.parse(nb.cells[stamp.setup_cell_index(nb)].source)
    calls = [node for node in ast.walk(tree) if isinstance(node, ast.Call)
             and isinstance(node.func, ast.Attribute) and node.func.attr == "run"]
    assert len(calls) == 1, "the setup cell runs exactly one command"
    args = []
    for element in calls[0].args[0].elts:
        if isinstance(element, ast.Constant):
            args.append(element.value)
        else:
            assert ast.unparse(element) == "sys.executable", ast.unparse(element)
            args.append(str(python))
    return args


def changed(before: dict, after: dict, names=None) -> list[str]:
    names = before if names is None else names
    out = []
    for name in names:
        if name not in after:
            out.append(f"{name} was removed")
        elif after[name]["version"] != before[name]["version"]:
            out.append(f"{name} {before[name]['version']} -> {after[name]['version']}")
        elif after[name]["files"] != before[name]["files"]:
            diff = [f for f in before[name]["files"] if before[name]["files"][f] != after[name]["files"].get(f)]
            out.append(f"{name}: {len(diff)} files rewritten, e.g. {diff[:3]}")
    return out


@pytest.fixture(scope="module")
def colab():
    if shutil.which("git") is None:
        pytest.fail("the Colab simulation needs git (pip installs the book with git+URL)")
    keep = os.environ.get("D2L_COLAB_KEEP") == "1"
    tmp = Path(tempfile.mkdtemp(prefix="colab-sim-"))
    log(f"working in {tmp}" + (" (kept afterwards)" if keep else ""))
    try:
        sim = SimpleNamespace(tmp=tmp, times={})
        env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
        venv = tmp / "venv"
        env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        env["MPLCONFIGDIR"] = str(tmp / "mpl")
        env["OMP_NUM_THREADS"] = "1"
        sim.python = venv / "bin" / "python"

        start = time.perf_counter()
        run([sys.executable, "-m", "venv", venv], env)
        # torch first and on its own, as the Makefile does (a bare resolve may pick a CUDA build).
        run([sim.python, "-m", "pip", "install", "--quiet", TORCH_SPEC], env)
        run([sim.python, "-m", "pip", "install", "--quiet", *COLAB_PREINSTALLED], env)
        run([sim.python, "-c", "import matplotlib.pyplot"], env)  # Colab's font cache is built already
        # The only thing the install command may fetch: the build backend for the isolated build.
        run([sim.python, "-m", "pip", "download", "--quiet", "--only-binary=:all:", "-d", tmp / "wheelhouse",
             "setuptools>=64", "wheel"], env)
        # ... and the two packages the setup cell names besides the book (jieba is an sdist only)
        run([sim.python, "-m", "pip", "download", "--quiet", "--no-deps", "-d", tmp / "wheelhouse",
             "jieba>=0.42", "opencc-python-reimplemented>=0.1.7"], env)
        sim.times["venv"] = time.perf_counter() - start

        sim.repo = tmp / "repo"
        sim.commit = working_tree_repo(sim.repo)
        sim.env_setup = env
        offline = dict(env)
        offline.update({
            "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(tmp / "wheelhouse"),
            "GIT_CONFIG_COUNT": "1",
            "GIT_CONFIG_KEY_0": f"url.file://{sim.repo}.insteadOf", "GIT_CONFIG_VALUE_0": config.REPO_URL,
            "GIT_ALLOW_PROTOCOL": "file",  # if the rewrite did not apply, git fails instead of going online
        })
        sim.env = offline
        sim.snapshot = lambda: json.loads(run([sim.python, "-c", SNAPSHOT], offline, cwd=tmp).stdout)
        sim.before = sim.snapshot()
        versions = {name: sim.before[name]["version"] for name in PROTECTED}
        log(f"fresh venv with {versions} ready in {sim.times['venv']:.0f} s; "
            f"{len(sim.before)} distributions; repo snapshot {sim.commit[:12]}")
        yield sim
    finally:
        if keep:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def test_install_command_of_the_setup_cell_installs_the_book_and_touches_nothing_else(colab):
    args = pip_command_of_setup_cell(colab.repo / "notebooks" / CHAPTER, colab.python)
    assert f"git+{config.REPO_URL}" in args and "--no-deps" in args
    log("running the setup cell's command: " + " ".join(args[1:]))
    start = time.perf_counter()
    result = run(args, colab.env, cwd=colab.tmp)
    seconds = time.perf_counter() - start
    after = colab.snapshot()

    assert changed(colab.before, after, PROTECTED) == [], "pip touched torch, numpy or matplotlib"
    assert changed(colab.before, after) == [], "pip changed a package that was already installed"
    added = sorted(set(after) - set(colab.before))
    assert added == BOOK_PACKAGES, added
    direct = json.loads(run([colab.python, "-c",
                             "import importlib.metadata as md; print(md.distribution('d2l-local')"
                             ".read_text('direct_url.json'))"], colab.env, cwd=colab.tmp).stdout)
    assert direct["url"] == config.REPO_URL and direct["vcs_info"]["commit_id"] == colab.commit, direct

    imported = run([colab.python, "-c", "import d2l_local, d2l_exercises, torch; "
                    "print(d2l_local.__file__); print(d2l_exercises.__file__); print(torch.__version__)"],
                   colab.env, cwd=colab.tmp).stdout.split()
    site = str(colab.tmp / "venv" / "lib")
    assert imported[0].startswith(site) and imported[1].startswith(site), imported
    log(f"pip installed only {BOOK_PACKAGES}: d2l-local {after['d2l-local']['version']} (commit {colab.commit[:12]}) "
        f"in {seconds:.1f} s; torch {imported[2]}, numpy, matplotlib and the other "
        f"{len(colab.before) - len(PROTECTED)} packages untouched; pip said: {result.stdout + result.stderr!r}")


def test_chapter_runs_in_colab_mode_and_its_setup_cell_installs_d2l_local(colab):
    run([colab.python, "-m", "pip", "uninstall", "--quiet", "-y", *BOOK_PACKAGES], colab.env)
    assert "d2l-local" not in colab.snapshot()

    workdir = colab.tmp / "run"
    workdir.mkdir()
    startup = colab.tmp / "ipython" / "profile_default" / "startup"
    startup.mkdir(parents=True)
    (startup / "00-fake-colab.py").write_text(FAKE_COLAB)
    env = dict(colab.env, IPYTHONDIR=str(colab.tmp / "ipython"))
    if Path(os.environ.get("D2L_DATA_DIR", "/nonexistent")).is_dir():
        env["D2L_DATA_DIR"] = str(Path(os.environ["D2L_DATA_DIR"]).resolve())

    nb = nbformat.read(colab.repo / "notebooks" / CHAPTER, as_version=4)
    setup_index = stamp.setup_cell_index(nb)
    rerun = nbformat.v4.new_code_cell(nb.cells[setup_index].source)  # the reader runs the cell again
    check = nbformat.v4.new_code_cell(textwrap.dedent("""\
        import importlib.metadata, json, sys
        import d2l_exercises
        print("COLAB-SIM " + json.dumps({
            "executable": sys.executable, "colab": "google.colab" in sys.modules,
            "d2l_local": d2l.__file__, "d2l_exercises": d2l_exercises.__file__,
            "torch": importlib.metadata.version("torch")}))"""))
    nb.cells += [rerun, check]
    source, target = workdir / CHAPTER, workdir / f"executed_{CHAPTER}"
    nbformat.write(nb, source)
    runner = colab.tmp / "run_notebook.py"
    runner.write_text(RUN_NOTEBOOK)

    log(f"executing {CHAPTER} in the venv's kernel, Colab mode ...")
    result = run([colab.python, runner, source, target, workdir], env, cwd=workdir)
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["error"] is None, summary["error"]

    done = nbformat.read(target, as_version=4)
    cells = [c for c in done.cells if c.cell_type == "code"]
    stderr = [(i, o.text) for i, c in enumerate(cells) for o in c.outputs
              if o.output_type == "stream" and o.name == "stderr"]
    assert stderr == [], f"stderr in Colab mode: {stderr}"
    report = json.loads(next(o.text for o in cells[-1].outputs if "COLAB-SIM" in o.get("text", ""))
                        .split("COLAB-SIM ", 1)[1])
    site = str(colab.tmp / "venv" / "lib")
    assert report["colab"] is True and report["executable"] == str(colab.python), report
    assert report["d2l_local"].startswith(site) and report["d2l_exercises"].startswith(site), report

    after = colab.snapshot()
    assert "d2l-local" in after, "the setup cell installed d2l_local"
    assert changed(colab.before, after) == [], "pip (run by the setup cell) changed a preinstalled package"

    def seconds(cell):
        timing = cell.metadata["execution"]
        start = datetime.fromisoformat(timing["iopub.execute_input"].replace("Z", "+00:00"))
        end = datetime.fromisoformat(timing["shell.execute_reply"].replace("Z", "+00:00"))
        return (end - start).total_seconds()

    first, again = seconds(cells[0]), seconds(cells[-2])
    assert again < 1.0, f"re-running the setup cell took {again:.2f} s: it must not call pip again"
    log(f"{CHAPTER}: {len(cells) - 2} code cells ran without an error in {summary['seconds']:.1f} s "
        f"(kernel start included); setup cell (pip install) {first:.1f} s, re-run {again:.3f} s; "
        f"torch {report['torch']} untouched")


def test_requirements_txt_installs_the_book_and_never_reinstalls_torch(colab):
    """requirements.txt names torch as a range: an installed torch that satisfies it stays untouched."""
    run([colab.python, "-m", "pip", "uninstall", "--quiet", "-y", *BOOK_PACKAGES], colab.env)
    before = colab.snapshot()
    start = time.perf_counter()
    run([colab.python, "-m", "pip", "install", "--quiet", "-r", "requirements.txt"], colab.env, cwd=colab.repo)
    seconds = time.perf_counter() - start
    after = colab.snapshot()
    assert changed(before, after, PROTECTED) == [], "pip touched torch, numpy or matplotlib"
    assert changed(before, after) == [], "pip changed a package that was already installed"
    assert "d2l-local" in after
    log(f"pip install -r requirements.txt: added {sorted(set(after) - set(before))} in {seconds:.1f} s; "
        f"torch {after['torch']['version']} untouched")
    run([colab.python, "-m", "pip", "uninstall", "--quiet", "-y", "d2l-local"], colab.env)


def test_why_no_deps_the_lower_bound_install_would_reach_for_torchs_requirements(colab):
    """On Colab, torch's metadata is not all satisfied (its nvidia-* requirements are left out), so a
    plain `pip install git+URL` resolving `torch>=2.1` would download them. Same here with networkx."""
    args = pip_command_of_setup_cell(colab.repo / "notebooks" / CHAPTER, colab.python)
    run([colab.python, "-m", "pip", "uninstall", "--quiet", "-y", *BOOK_PACKAGES, "networkx"], colab.env)
    dry = ["--dry-run", "--report", "-"]

    ours = run(args + dry, colab.env, cwd=colab.tmp)
    report = json.loads(ours.stdout)
    assert sorted(item["metadata"]["name"] for item in report["install"]) == BOOK_PACKAGES

    lower_bounds = [a for a in args if a != "--no-deps"]
    theirs = run(lower_bounds + dry, colab.env, cwd=colab.tmp, check=False)
    if theirs.returncode == 0:  # an index was reachable after all: then it plans to install networkx
        wanted = [item["metadata"]["name"] for item in json.loads(theirs.stdout)["install"]]
    else:
        assert "networkx" in theirs.stderr, theirs.stderr[-2000:]
        wanted = ["d2l-local", "networkx (not available offline: pip failed)"]
    assert len(wanted) > 1
    log(f"--no-deps would install {BOOK_PACKAGES}; without --no-deps pip wants {wanted}")
