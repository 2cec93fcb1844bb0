"""booktools.html without a browser or Jupyter Book: configuration, staging, checks and errors."""
from __future__ import annotations

import importlib.util
import sys
import types

import nbformat
import pytest
import yaml

from booktools import build, config, html

ROOT = html.ROOT


def notebook(path, *cells, executed=True):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# 1. 标题\n\n正文 $x^2$")]
    for count, source in enumerate(cells, 1):
        cell = nbformat.v4.new_code_cell(source)
        cell.execution_count = count if executed else None
        nb.cells.append(cell)
    nbformat.write(nb, path)
    return path


def test_book_config_takes_the_repository_from_config_py():
    template = {"title": "t", "launch_buttons": {"colab_url": "https://colab.research.google.com"}}
    settings = html.book_config(template, "https://github.com/o/r", "main")
    assert settings["repository"] == {"url": "https://github.com/o/r", "branch": "main", "path_to_book": ""}
    assert "repository" not in template  # the template itself is not modified
    with pytest.raises(html.HtmlBuildError, match="must not set `repository`"):
        html.book_config({"repository": {"url": "https://github.com/x/y"}})
    with pytest.raises(html.HtmlBuildError, match="booktools/config.py"):
        html.book_config({}, "https://example.org/book")


def test_committed_book_config_is_offline_and_executes_nothing():
    settings = yaml.safe_load((ROOT / "book" / "_config.yml").read_text(encoding="utf-8"))
    assert "repository" not in settings
    assert settings["execute"]["execute_notebooks"] == "off"
    assert settings["launch_buttons"]["colab_url"] == "https://colab.research.google.com"
    assert "sphinx-mathjax-offline" in settings["sphinx"]["config"]["extensions"]
    assert not settings["sphinx"]["config"]["mathjax_path"].startswith(("http", "//"))
    intro = (ROOT / "book" / "intro.md").read_text(encoding="utf-8")
    for attribution in ("CC-BY 2.0", "tatoeba.org", "manythings.org/anki", "{tableofcontents}"):
        assert attribution in intro


def test_table_of_contents_lists_chapters_then_appendices_then_the_glossary(tmp_path):
    paths = [notebook(tmp_path / "01_a.ipynb"), notebook(tmp_path / "02_b.ipynb")]
    appendix = notebook(tmp_path / "19_tools.ipynb")
    nb = nbformat.read(appendix, as_version=4)
    nb.cells[0].source = "# 附录 A.1 工具"
    nbformat.write(nb, appendix)
    toc = html.table_of_contents(paths + [appendix], glossary=True)
    assert toc["root"] == "intro"
    assert toc["parts"] == [
        {"caption": "正文", "chapters": [{"file": "notebooks/01_a"}, {"file": "notebooks/02_b"}]},
        {"caption": "附录", "chapters": [{"file": "notebooks/19_tools"}]},
        {"caption": "参考", "chapters": [{"file": "notebooks/glossary"}]}]


def test_check_outputs_names_chapters_that_were_not_run(tmp_path):
    done = notebook(tmp_path / "01_a.ipynb", "1", "2")
    html.check_outputs([done])
    never = notebook(tmp_path / "02_b.ipynb", "1", "2", executed=False)
    partly = notebook(tmp_path / "03_c.ipynb", "1", "2")
    nb = nbformat.read(partly, as_version=4)
    nb.cells[2].execution_count = None
    nbformat.write(nb, partly)
    with pytest.raises(html.HtmlBuildError) as error:
        html.check_outputs([done, never, partly])
    message = str(error.value)
    assert "02_b.ipynb: no stored outputs" in message
    assert "03_c.ipynb: cells 2 were not run" in message
    assert "01_a" not in message
    assert "python -m booktools.build" in message


def test_exercise_cells_need_not_have_been_run(tmp_path):
    """The student edition clears exercise and solution cells, so the HTML shows no output of theirs."""
    path = notebook(tmp_path / "01_a.ipynb", "1", "x = 1\n### BEGIN SOLUTION\nx = 2\n### END SOLUTION", "check()")
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells[2:]:
        cell.execution_count = None
    nb.cells[3].metadata["tags"] = ["exercise"]
    nbformat.write(nb, path)
    html.check_outputs([path])
    nb.cells[3].metadata["tags"] = []
    nbformat.write(nb, path)
    with pytest.raises(html.HtmlBuildError, match="cells 3 were not run"):
        html.check_outputs([path])


def test_missing_or_wrong_jupyter_book_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "jupyter_book", None)  # `import jupyter_book` raises ImportError
    with pytest.raises(html.HtmlBuildError, match=r"jupyter-book is not installed.*\.\[html\]"):
        html.jupyter_book_version()
    monkeypatch.setitem(sys.modules, "jupyter_book", types.SimpleNamespace(__version__="2.1.7"))
    with pytest.raises(html.HtmlBuildError, match=r"jupyter-book 2\.1\.7 is installed.*<2"):
        html.jupyter_book_version()
    monkeypatch.setitem(sys.modules, "jupyter_book", types.SimpleNamespace(__version__="1.0.4"))
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None if name == "jieba" else object())
    with pytest.raises(html.HtmlBuildError, match=r"jieba .*search.*\.\[html\]"):
        html.jupyter_book_version()


def test_build_fails_fast_without_jupyter_book(monkeypatch, capsys):
    def missing():
        raise html.HtmlBuildError("jupyter-book is not installed")

    monkeypatch.setattr(html, "jupyter_book_version", missing)
    assert build.main(["notebooks/does_not_matter.ipynb"]) == 2  # before executing anything
    assert "--no-html" in capsys.readouterr().err


def test_remote_resources_finds_what_a_page_would_fetch(tmp_path):
    (tmp_path / "page.html").write_text(
        '<script src="https://cdn.example.org/mathjax.js"></script>'
        '<link rel="stylesheet" href="//fonts.example.org/a.css">'
        '<link rel="canonical" href="https://example.org/page.html">'
        '<a href="https://colab.research.google.com/github/o/r/blob/main/x.ipynb">Colab</a>'
        '<script src="_static/local.js"></script><img src="_images/plot.png">', encoding="utf-8")
    (tmp_path / "_static").mkdir()
    (tmp_path / "_static" / "a.css").write_text(
        "@font-face { src: url('https://fonts.example.org/x.woff2'); } .b { background: url(img/b.png); }")
    found = html.remote_resources(tmp_path)
    assert found == ["page.html: https://cdn.example.org/mathjax.js", "page.html: //fonts.example.org/a.css",
                     "_static/a.css: https://fonts.example.org/x.woff2"]


def test_stage_writes_the_student_edition_and_generated_settings(tmp_path):
    chapters = tmp_path / "notebooks"
    chapters.mkdir()
    first = notebook(chapters / "01_a.ipynb", "x = 1\n### BEGIN SOLUTION\nx = 2\n### END SOLUTION")
    book = tmp_path / "book"
    book.mkdir()
    (book / "_config.yml").write_text("title: 书\nexecute:\n  execute_notebooks: 'off'\n", encoding="utf-8")
    (book / "intro.md").write_text("# 书\n", encoding="utf-8")
    stage = tmp_path / "stage"
    (stage / "stale").mkdir(parents=True)  # left over from an earlier build: removed
    html.stage([first], stage, book)
    settings = yaml.safe_load((stage / "_config.yml").read_text(encoding="utf-8"))
    assert settings["title"] == "书"
    assert settings["repository"]["url"] == config.REPO_URL
    assert settings["repository"]["branch"] == config.REPO_BRANCH
    toc = yaml.safe_load((stage / "_toc.yml").read_text(encoding="utf-8"))
    assert toc["parts"][0]["chapters"] == [{"file": "notebooks/01_a"}]
    staged = nbformat.read(stage / "notebooks" / "01_a.ipynb", as_version=4)
    assert "x = 2" not in staged.cells[1].source  # the solution is stripped
    assert (stage / "intro.md").is_file() and (stage / "images").is_dir()
    assert not (stage / "stale").exists()


def test_stage_refuses_a_chapter_without_a_title(tmp_path):
    path = notebook(tmp_path / "01_a.ipynb", "1")
    nb = nbformat.read(path, as_version=4)
    nb.cells[0].source = "no heading"
    nbformat.write(nb, path)
    with pytest.raises(html.HtmlBuildError, match="01_a.ipynb: no `# N. 标题` heading"):
        html.stage([path], tmp_path / "stage")


def test_publish_replaces_the_old_edition(tmp_path):
    out = tmp_path / "html"
    (out / "old").mkdir(parents=True)
    built = tmp_path / "new"
    built.mkdir()
    (built / "index.html").write_text("new")
    html.publish(built, out)
    assert sorted(p.name for p in out.iterdir()) == ["index.html"]
    assert not built.exists() and not (tmp_path / "html.old").exists()


def test_a_tiny_book_builds_offline_with_its_colab_link(tmp_path):
    """A real Jupyter Book build (only where the `html` extras are installed: `make test` has no jupyter-book)."""
    pytest.importorskip("jupyter_book")
    chapters = tmp_path / "notebooks"
    chapters.mkdir()
    path = notebook(chapters / "01_a.ipynb", "print(1 + 1)")
    nb = nbformat.read(path, as_version=4)
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", name="stdout", text="2\n")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nbformat.write(nb, path)
    html.stage([path], tmp_path / "stage")
    built = html.run_jupyter_book(tmp_path / "stage")
    page = (built / "notebooks" / "01_a.html").read_text(encoding="utf-8")
    colab = f'href="{config.colab_url("01_a.ipynb")}"'
    assert colab in page
    assert 'src="../_static/mathjax/tex-chtml.js' in page and (built / "_static/mathjax/tex-chtml.js").is_file()
    assert html.remote_resources(built) == []

    (tmp_path / "stage" / "intro.md").write_text("# 书\n\n![图](images/missing.svg)\n", encoding="utf-8")
    with pytest.raises(html.HtmlBuildError, match="image file not readable: images/missing.svg"):
        html.run_jupyter_book(tmp_path / "stage")


def test_staged_chapters_drop_the_setup_cell_and_fold_the_checks(tmp_path):
    from booktools import stamp

    path = notebook(tmp_path / "01_a.ipynb", "print(1)")
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("from d2l_exercises import ch01 as checks\nok = checks.f(f)",
                                              metadata={"tags": ["exercise"]}))
    nbformat.write(nb, path)
    stamp.stamp(path)
    html.mark_for_html(path)
    staged = nbformat.read(path, as_version=4)
    setup = staged.cells[stamp.setup_cell_index(staged)]
    assert "remove-cell" in setup.metadata["tags"]
    assert "hide-input" in staged.cells[-1].metadata["tags"]
    assert all("remove-cell" not in c.metadata.get("tags", []) for c in staged.cells if c is not setup)


def test_staged_chapters_show_embedded_figures_from_the_staged_images_folder(tmp_path):
    from booktools import figures

    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "flow.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1 1"/>')
    (tmp_path / "notebooks").mkdir()
    path = notebook(tmp_path / "notebooks" / "01_a.ipynb", "print(1)")
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_markdown_cell("图：![流程](../images/flow.svg)"))
    figures.embed(nb, tmp_path / "images")
    nbformat.write(nb, path)
    html.mark_for_html(path)
    staged = nbformat.read(path, as_version=4).cells[-1]
    assert staged.source == "图：![流程](../images/flow.svg)" and "attachments" not in staged
