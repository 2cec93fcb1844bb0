"""Build the HTML edition of the book: ``python -m booktools.html [--out _build/html]``.

The public web edition is the *student* edition (exercise solutions stripped, see ``booktools.student``)
of every chapter, rendered by Jupyter Book 1.x from the outputs already stored in the notebooks
(``make book`` stores them; this command executes nothing):

1. every chapter in ``notebooks/`` must hold the outputs of a run (each code cell whose outputs the
   student edition keeps has an execution count; exercise and solution cells lose theirs anyway);
2. the student edition is written to ``_build/book/`` (``notebooks/`` + ``images/``), next to
   ``intro.md`` from ``book/``, a ``_toc.yml`` generated from the chapter list, and a ``_config.yml``
   made from ``book/_config.yml`` plus the repository settings of ``booktools/config.py`` (the one
   place the URL is written: the Colab button of ``notebooks/NN_x.ipynb`` opens
   ``https://colab.research.google.com/github/<owner>/<repo>/blob/<branch>/notebooks/NN_x.ipynb``);
3. ``jupyter-book build`` (Sphinx warnings are errors) renders it; MathJax comes from a local copy
   (``sphinx-mathjax-offline``), so the pages need no network at all;
4. the result replaces ``_build/html/`` only when the build succeeded and no page or stylesheet loads
   anything from another host.

Jupyter Book is an optional dependency: ``pip install -e '.[html]'``.
"""
from __future__ import annotations

import argparse
import copy
import importlib.util
import re
import shutil
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path

import nbformat

from booktools import config, student
from booktools import nb as nbtools

ROOT = nbtools.ROOT
NOTEBOOKS = nbtools.NOTEBOOK_DIR
BOOK_DIR = ROOT / "book"
STAGE_DIR = ROOT / "_build" / "book"
HTML_DIR = ROOT / "_build" / "html"
INSTALL_HINT = "pip install -e '.[html]'  (or `make html`, which installs it into .venv)"


class HtmlBuildError(Exception):
    """The HTML edition cannot be built; the message says why and what to do."""


def jupyter_book_version() -> str:
    """The installed Jupyter Book version; an error that says how to install it when it is missing or 2.x."""
    try:
        import jupyter_book
    except ImportError:
        raise HtmlBuildError(f"jupyter-book is not installed in {sys.prefix}; install the HTML tools with "
                             f"`{INSTALL_HINT}`") from None
    version = getattr(jupyter_book, "__version__", "0")
    if int(version.split(".")[0]) != 1:
        raise HtmlBuildError(f"jupyter-book {version} is installed, but the book is built with Jupyter Book 1.x "
                             "(2.x needs Node and fetches its theme from the internet); "
                             "run `pip install 'jupyter-book>=1.0.4,<2'`")
    for module, purpose in (("sphinx-mathjax-offline", "MathJax without internet"),
                            ("jieba", "splits Chinese text into words for the search index")):
        if importlib.util.find_spec(module) is None:
            raise HtmlBuildError(f"{module} ({purpose}) is not installed; `{INSTALL_HINT}`")
    return version


def shown_outputs(cell) -> bool:
    """Whether the HTML (student) edition shows this code cell's stored outputs: exercise cells and
    cells with solutions lose theirs (see ``booktools.student``), so they need not have been run."""
    tags = cell.get("metadata", {}).get("tags", [])
    return (cell.cell_type == "code" and bool(cell.source.strip())
            and student.EXERCISE_TAG not in tags and student.SOLUTION_TAG not in tags
            and student.BEGIN not in cell.source)


def unexecuted_cells(nb) -> list[int]:
    """Indices of the code cells whose outputs the edition shows but which hold no result of a run."""
    return [i for i, cell in enumerate(nb.cells) if shown_outputs(cell) and cell.get("execution_count") is None]


def check_outputs(paths: list[Path]) -> None:
    """Fail when a chapter has not been run: the HTML edition shows stored outputs and runs nothing."""
    problems = []
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        missing = unexecuted_cells(nb)
        code = [c for c in nb.cells if shown_outputs(c)]
        if code and len(missing) == len(code):
            problems.append(f"{path.name}: no stored outputs (the notebook was never run)")
        elif missing:
            problems.append(f"{path.name}: cells {', '.join(map(str, missing))} were not run")
    if problems:
        raise HtmlBuildError("the HTML edition shows the outputs stored in the notebooks, and these are missing:\n  "
                             + "\n  ".join(problems)
                             + "\nrun the chapters first: `python -m booktools.build --no-html notebooks/NN_x.ipynb` "
                               "(or `make book` for all)")


def chapter_title(path: Path) -> str:
    """The text of the chapter's first ``# `` heading (what the table of contents shows)."""
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    raise HtmlBuildError(f"{path.name}: no `# N. 标题` heading; every chapter starts with its title")


def book_config(template: dict, repo_url: str = config.REPO_URL, branch: str = config.REPO_BRANCH) -> dict:
    """``book/_config.yml`` with the repository settings of ``booktools/config.py`` filled in."""
    try:
        config.github_repo(repo_url)  # Colab opens notebooks from GitHub only
    except ValueError as error:
        raise HtmlBuildError(str(error)) from None
    if "repository" in template:
        raise HtmlBuildError("book/_config.yml must not set `repository`: it comes from booktools/config.py")
    result = copy.deepcopy(template)
    result["repository"] = {"url": repo_url, "branch": branch, "path_to_book": ""}
    return result


def is_appendix(path: Path) -> bool:
    """An appendix chapter (the book's tools, ``# 附录 A.1 …``), listed after the main chapters."""
    return chapter_title(path).startswith("附录")


def table_of_contents(paths: list[Path], glossary: bool = False) -> dict:
    """The Jupyter Book ``_toc.yml``: the landing page, then the chapters in reading order, the appendices,
    and the glossary page (``notebooks/glossary.md``) when there is one."""
    main = [{"file": f"notebooks/{p.stem}"} for p in paths if not is_appendix(p)]
    appendices = [{"file": f"notebooks/{p.stem}"} for p in paths if is_appendix(p)]
    parts = [{"caption": "正文", "chapters": main}]
    if appendices:
        parts.append({"caption": "附录", "chapters": appendices})
    if glossary:
        parts.append({"caption": "参考", "chapters": [{"file": "notebooks/glossary"}]})
    return {"format": "jb-book", "root": "intro", "parts": parts}


def stage(paths: list[Path], stage_dir: Path = STAGE_DIR, book_dir: Path = BOOK_DIR) -> Path:
    """Write the Jupyter Book source folder: student edition + intro + generated _config.yml/_toc.yml."""
    import yaml

    template_path = book_dir / "_config.yml"
    intro = book_dir / "intro.md"
    for needed in (template_path, intro):
        if not needed.is_file():
            raise HtmlBuildError(f"{needed} is missing (the static parts of the HTML edition live in book/)")
    template = yaml.safe_load(template_path.read_text(encoding="utf-8")) or {}
    settings = book_config(template)
    for path in paths:
        chapter_title(path)  # every chapter has a title: fail before anything is written
    if stage_dir.exists():
        shutil.rmtree(stage_dir)
    try:
        student.make_edition(paths, stage_dir)
    except student.StudentEditionError as error:
        raise HtmlBuildError(f"student edition: {error}") from None
    for path in sorted((stage_dir / "notebooks").glob("*.ipynb")):
        mark_for_html(path)
    shutil.copy2(intro, stage_dir / "intro.md")
    glossary = NOTEBOOKS / "glossary.md"
    if glossary.is_file():
        shutil.copy2(glossary, stage_dir / "notebooks" / "glossary.md")
    header = "# Generated by `python -m booktools.html` from book/_config.yml and booktools/config.py: don't edit.\n"
    (stage_dir / "_config.yml").write_text(
        header + yaml.safe_dump(settings, allow_unicode=True, sort_keys=False), encoding="utf-8")
    (stage_dir / "_toc.yml").write_text(
        header + yaml.safe_dump(table_of_contents(paths, glossary=glossary.is_file()), allow_unicode=True,
                                sort_keys=False),
        encoding="utf-8")
    return stage_dir


def mark_for_html(path: Path) -> None:
    """Prepare a staged (student-edition) chapter for Jupyter Book: the setup cell is dropped (it prints
    nothing locally and is plumbing), the exercise checks' code is folded (their verdict stays), and
    embedded figures point at the staged images/ again (one copy of each diagram for the whole site)."""
    from booktools import figures, stamp

    notebook = nbtools.read(path)
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            cell.source = figures.unembedded_source(cell.source)
    for index in stamp.folded_cells(notebook):
        cell = notebook.cells[index]
        tag = "remove-cell" if nbtools.SETUP_TAG in nbtools.tags(cell) else nbtools.HIDE_INPUT_TAG
        cell.metadata["tags"] = nbtools.tags(cell) + ([tag] if tag not in nbtools.tags(cell) else [])
    nbtools.write_atomically(path, notebook)


def run_jupyter_book(stage_dir: Path) -> Path:
    """``jupyter-book build`` with Sphinx warnings as errors; the folder of the HTML it wrote."""
    out = stage_dir / "_build" / "html"
    command = [sys.executable, "-c", "import sys; from jupyter_book.cli.main import main; sys.exit(main())",
               "build", str(stage_dir), "--all", "--builder", "html", "--warningiserror", "--keep-going"]
    result = subprocess.run(command, cwd=stage_dir, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    if result.returncode != 0 or not (out / "index.html").is_file():
        lines = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout).splitlines()  # without colour codes
        warnings = [line for line in lines if "WARNING" in line or "ERROR" in line]
        shown = "\n".join(warnings[:40] or lines[-40:])
        raise HtmlBuildError(f"jupyter-book build failed (exit status {result.returncode}); "
                             f"Sphinx warnings count as errors:\n{shown}\n"
                             f"(the whole log: `jupyter-book build {stage_dir}`)")
    return out


_LOADING_RELS = {"stylesheet", "preload", "modulepreload", "prefetch", "icon", "manifest", "apple-touch-icon"}
_REMOTE = re.compile(r"^(?:[a-z][a-z0-9+.-]*:)?//", re.I)
_CSS_REMOTE = re.compile(r"""(?:url\(\s*['"]?|@import\s+['"])((?:https?:)?//[^'")\s]+)""", re.I)


class _ResourceParser(HTMLParser):
    """Collects the addresses a page loads by itself (scripts, stylesheets, images, frames, media)."""

    def __init__(self):
        super().__init__()
        self.loads: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("script", "img", "iframe", "source", "audio", "video", "embed", "track"):
            if attrs.get("src"):
                self.loads.append(attrs["src"])
        elif tag == "link" and _LOADING_RELS & set((attrs.get("rel") or "").lower().split()):
            if attrs.get("href"):
                self.loads.append(attrs["href"])
        elif tag == "object" and attrs.get("data"):
            self.loads.append(attrs["data"])


def remote_resources(html_dir: Path) -> list[str]:
    """``file: address`` for every script, stylesheet, image or frame a page would fetch from another host."""
    found = []
    for page in sorted(html_dir.rglob("*.html")):
        parser = _ResourceParser()
        parser.feed(page.read_text(encoding="utf-8", errors="replace"))
        found += [f"{page.relative_to(html_dir)}: {url}" for url in parser.loads if _REMOTE.match(url)]
    for sheet in sorted(html_dir.rglob("*.css")):
        text = sheet.read_text(encoding="utf-8", errors="replace")
        found += [f"{sheet.relative_to(html_dir)}: {url}" for url in _CSS_REMOTE.findall(text)]
    return found


def publish(built: Path, out: Path) -> None:
    """Replace ``out`` by ``built`` (a failed build never leaves a half-written edition behind)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    old = out.with_name(out.name + ".old")
    if old.exists():
        shutil.rmtree(old)
    if out.exists():
        out.rename(old)
    shutil.move(str(built), str(out))
    if old.exists():
        shutil.rmtree(old)


def build(paths: list[Path] | None = None, out: Path = HTML_DIR, stage_dir: Path = STAGE_DIR) -> dict:
    """Build the HTML edition of ``paths`` (default: every chapter) into ``out``; a summary dict."""
    start = time.perf_counter()
    version = jupyter_book_version()
    paths = [Path(p).resolve() for p in paths] if paths else nbtools.chapter_paths(NOTEBOOKS)
    for path in paths:
        if not path.is_file():
            raise HtmlBuildError(f"{path} does not exist")
    check_outputs(paths)
    stage(paths, stage_dir)
    built = run_jupyter_book(stage_dir)
    remote = remote_resources(built)
    if remote:
        raise HtmlBuildError("the pages would load these from the internet (the edition must work offline):\n  "
                             + "\n  ".join(remote[:20]))
    missing = [p.name for p in paths if not (built / "notebooks" / f"{p.stem}.html").is_file()]
    if missing:
        raise HtmlBuildError(f"jupyter-book wrote no page for {', '.join(missing)}")
    publish(built, out)
    return {"chapters": len(paths), "pages": len(list(out.rglob("*.html"))), "jupyter_book": version,
            "seconds": time.perf_counter() - start}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the HTML edition (student edition, Jupyter Book 1.x, offline).")
    parser.add_argument("--out", type=Path, default=HTML_DIR, help="output folder (default: _build/html)")
    args = parser.parse_args(argv)
    try:
        summary = build(out=args.out.resolve())
    except (HtmlBuildError, nbtools.NotebookError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    where = args.out.resolve()
    shown = where.relative_to(ROOT) if where.is_relative_to(ROOT) else where
    print(f"HTML edition: {shown}/index.html ({summary['chapters']} chapters, {summary['pages']} pages, "
          f"Jupyter Book {summary['jupyter_book']}, {summary['seconds']:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
