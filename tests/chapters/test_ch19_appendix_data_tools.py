"""Tests of appendix A.1's data tools (d2l_local, generated from notebooks/19_appendix_data_tools.ipynb):
where the corpus is looked for, the checked download, the safe extraction.

No test touches the network: downloads go to a local HTTP server on 127.0.0.1, and "no network"
is a closed local port.
"""
import functools
import hashlib
import http.server
import io
import re
import socket
import threading
import zipfile
from pathlib import Path

import pytest

import d2l_local as d2l

SAMPLE = "Go.\tVa !\nHi.\tSalut !\nRun!\tCours\u202f!\n"


# ---------------------------------------------------------------- helpers

def make_zip(members):
    """Bytes of a zip holding {name: text}."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in members.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def sha1(data):
    return hashlib.sha1(data).hexdigest()


@pytest.fixture
def http_server(tmp_path):
    """Serve the files of a folder on 127.0.0.1; yields (folder, base_url)."""
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep test output clean
        pass


@pytest.fixture
def closed_url():
    """A URL on 127.0.0.1 where nothing listens (connecting is refused at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/fra-eng.zip"


@pytest.fixture
def dirs(tmp_path, monkeypatch):
    """Empty cache and data folders, set through the environment."""
    cache, data = tmp_path / "cache", tmp_path / "data"
    monkeypatch.setenv("D2L_CACHE_DIR", str(cache))
    monkeypatch.setenv("D2L_DATA_DIR", str(data))
    return cache, data


def files_under(folder):
    return sorted(p.relative_to(folder).as_posix() for p in Path(folder).rglob("*"))


# ---------------------------------------------------------------- locating and downloading

def test_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("D2L_CACHE_DIR", str(tmp_path))
    assert d2l.cache_dir() == tmp_path
    monkeypatch.delenv("D2L_CACHE_DIR")
    repo = Path(d2l.__file__).resolve().parent.parent
    if (repo / "pyproject.toml").is_file() and (repo / "notebooks").is_dir():
        assert d2l.cache_dir() == repo / "data"
    else:
        assert d2l.cache_dir() == Path.home() / ".cache" / "d2l_local"


def test_download_extract_read(http_server, dirs):
    root, base = http_server
    cache, _ = dirs
    payload = make_zip({"fra-eng/fra.txt": SAMPLE, "fra-eng/_about.txt": "about"})
    (root / "fra-eng.zip").write_bytes(payload)
    path = d2l.find_fra_eng(f"{base}/fra-eng.zip", sha1(payload))
    assert path == cache / "fra-eng" / "fra.txt"
    assert path.read_text(encoding="utf-8") == SAMPLE
    assert (cache / "fra-eng.zip").read_bytes() == payload
    assert not list(cache.rglob("*.part"))
    # read_data_nmt uses the real URL, but finds the extracted file first: no download
    assert d2l.read_data_nmt() == SAMPLE


def test_download_skips_good_existing_file(http_server, tmp_path):
    _, base = http_server  # serves nothing: a download attempt would fail with 404
    payload = b"already here"
    (tmp_path / "x.zip").write_bytes(payload)
    assert d2l.download(f"{base}/x.zip", sha1(payload), tmp_path) == tmp_path / "x.zip"


def test_wrong_checksum(http_server, tmp_path):
    root, base = http_server
    (root / "fra-eng.zip").write_bytes(b"corrupted bytes")
    folder = tmp_path / "cache"
    with pytest.raises(d2l.DataError, match="checksum") as info:
        d2l.download(f"{base}/fra-eng.zip", "0" * 40, folder)
    message = str(info.value)
    assert "0" * 40 in message and sha1(b"corrupted bytes") in message and "删除" in message
    assert files_under(folder) == []  # neither the .part file nor a bad fra-eng.zip


def test_wrong_checksum_keeps_good_file(http_server, tmp_path):
    root, base = http_server
    folder = tmp_path / "cache"
    folder.mkdir()
    good = make_zip({"fra-eng/fra.txt": SAMPLE})
    (folder / "fra-eng.zip").write_bytes(good)
    (root / "fra-eng.zip").write_bytes(b"something else")
    # The expected sha1 matches neither file: the local file is not used, a download is
    # tried, and the bad download must not replace (or delete) what was there.
    with pytest.raises(d2l.DataError, match="checksum"):
        d2l.download(f"{base}/fra-eng.zip", "1" * 40, folder)
    assert (folder / "fra-eng.zip").read_bytes() == good
    assert files_under(folder) == ["fra-eng.zip"]


def test_no_network_names_three_ways(dirs, closed_url):
    cache, data = dirs
    with pytest.raises(d2l.DataError) as info:
        d2l.find_fra_eng(closed_url, "0" * 40)
    message = str(info.value)
    assert "(1)" in message and "D2L_DATA_DIR" in message and "fra-eng/fra.txt" in message
    assert "(2)" in message and str(cache) in message
    assert "(3)" in message and "网络" in message
    # D2L_DATA_DIR is set but lacks the file: the error says so
    assert str(data) in message
    assert not list(cache.rglob("*.part"))


def test_download_no_network(tmp_path, closed_url):
    with pytest.raises(d2l.DataError, match="D2L_DATA_DIR"):
        d2l.download(closed_url, "0" * 40, tmp_path)
    assert files_under(tmp_path) == []


def test_bad_existing_zip_offline(dirs, closed_url):
    cache, _ = dirs
    cache.mkdir()
    stale = make_zip({"fra-eng/fra.txt": SAMPLE})  # a zip, but not the one with this sha1
    (cache / "fra-eng.zip").write_bytes(stale)
    with pytest.raises(d2l.DataError) as info:
        d2l.find_fra_eng(closed_url, "0" * 40)
    assert str(cache / "fra-eng.zip") in str(info.value)  # says the local zip was not used
    assert (cache / "fra-eng.zip").read_bytes() == stale
    assert not (cache / "fra-eng" / "fra.txt").exists()


@pytest.mark.parametrize("bad_name", ["../evil.txt", "/tmp/evil_absolute.txt",
                                      "fra-eng/../../evil.txt"])
def test_extract_refuses_escaping_members(tmp_path, bad_name):
    zip_path = tmp_path / "bad.zip"
    # the good member comes first: nothing at all may be extracted
    zip_path.write_bytes(make_zip({"fra-eng/fra.txt": SAMPLE, bad_name: "evil"}))
    target = tmp_path / "out"
    with pytest.raises(d2l.DataError, match=re.escape(repr(bad_name))):
        d2l.extract_zip(zip_path, target)
    assert files_under(target) == []
    assert not (tmp_path / "evil.txt").exists()
    assert not Path("/tmp/evil_absolute.txt").exists()


def test_extract_refuses_symlink_member(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        link = zipfile.ZipInfo("fra-eng")
        link.external_attr = (0o120777 << 16)  # a symbolic link ...
        archive.writestr(link, str(tmp_path / "elsewhere"))  # ... pointing outside
        archive.writestr("fra-eng/fra.txt", SAMPLE)
    (tmp_path / "link.zip").write_bytes(buffer.getvalue())
    with pytest.raises(d2l.DataError, match="fra-eng"):
        d2l.extract_zip(tmp_path / "link.zip", tmp_path / "out")
    assert files_under(tmp_path / "out") == []


def test_extract_refuses_existing_symlink_dir(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    target = tmp_path / "out"
    target.mkdir()
    (target / "fra-eng").symlink_to(outside, target_is_directory=True)
    (tmp_path / "ok.zip").write_bytes(make_zip({"fra-eng/fra.txt": SAMPLE}))
    with pytest.raises(d2l.DataError):
        d2l.extract_zip(tmp_path / "ok.zip", target)
    assert files_under(outside) == []


def test_extract_bad_zip(tmp_path):
    (tmp_path / "broken.zip").write_bytes(b"not a zip")
    with pytest.raises(d2l.DataError, match="zip"):
        d2l.extract_zip(tmp_path / "broken.zip", tmp_path / "out")


def test_data_dir_wins_over_cache(dirs, closed_url):
    cache, data = dirs
    for folder, text in ((cache, "a\tb\n"), (data, "c\td\n")):
        (folder / "fra-eng").mkdir(parents=True)
        (folder / "fra-eng" / "fra.txt").write_text(text, encoding="utf-8")
    assert d2l.find_fra_eng(closed_url, "0" * 40) == data / "fra-eng" / "fra.txt"


def test_cache_used_when_data_dir_lacks_file(dirs, closed_url):
    cache, data = dirs
    data.mkdir()  # exists, but holds no fra-eng/fra.txt
    (cache / "fra-eng").mkdir(parents=True)
    (cache / "fra-eng" / "fra.txt").write_text("a\tb\n", encoding="utf-8")
    # closed_url proves no download is attempted (it would raise DataError)
    assert d2l.find_fra_eng(closed_url, "0" * 40) == cache / "fra-eng" / "fra.txt"


def test_the_tools_raise_chapter_2s_data_error(tmp_path):
    """The appendix's errors are the d2l.DataError that chapter 2's code and its readers catch."""
    (tmp_path / "broken.zip").write_bytes(b"not a zip")
    with pytest.raises(d2l.DataError) as info:
        d2l.extract_zip(tmp_path / "broken.zip", tmp_path / "out")
    assert type(info.value) is d2l.DataError and d2l.DataError.__module__.endswith("ch02_translation_corpus")


def test_download_from_a_file_url(tmp_path):
    """The appendix's offline demonstration: urllib opens file:// URLs, with the same checks."""
    server = tmp_path / "server"
    server.mkdir()
    (server / "hello.txt").write_bytes(b"Go.\tVa !\n")
    url = (server / "hello.txt").as_uri()
    assert d2l.download(url, sha1(b"Go.\tVa !\n"), tmp_path / "cache").read_bytes() == b"Go.\tVa !\n"
    with pytest.raises(d2l.DataError, match="checksum"):
        d2l.download(url, "0" * 40, tmp_path / "other")
    assert files_under(tmp_path / "other") == []
