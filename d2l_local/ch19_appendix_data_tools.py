# ======================================================================================
# GENERATED FILE — DO NOT EDIT.
# Generated from notebooks/ — edit the notebook, then regenerate:  python -m booktools.extract
# Every block below comes from a `#@save` cell; its provenance line names the notebook
# and cell. `python -m booktools.extract --check` (run by the tests) fails when this file is stale.
# ======================================================================================
"""附录 A.1 数据文件的获取与校验: the saved code of notebooks/19_appendix_data_tools.ipynb (generated)."""

import hashlib
import os
import re
import stat
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path
import d2l_local as d2l  # other chapters' names: d2l.name

__all__ = [
    'FRA_ENG_URL',
    'FRA_ENG_SHA1',
    'cache_dir',
    'download',
    'extract_zip',
    'find_fra_eng',
]


# ---- notebooks/19_appendix_data_tools.ipynb · cell id ch19-05 ----
FRA_ENG_URL = "https://d2l-data.s3-accelerate.amazonaws.com/fra-eng.zip"
FRA_ENG_SHA1 = "94646ad1522d915e7b0f9296181140edcf86a4f5"


def cache_dir():
    """返回存放下载数据的文件夹（Path，不一定已存在）。

    顺序：环境变量 D2L_CACHE_DIR；若本包位于本书仓库的检出中
    （包的上一级目录有 pyproject.toml 和 notebooks/），用 <仓库>/data；
    否则用 ~/.cache/d2l_local。
    """
    env = os.environ.get("D2L_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    try:
        here = Path(__file__).resolve().parent  # 生成的包 d2l_local/
    except NameError:  # 在笔记本里运行时没有 __file__，当前文件夹就是 notebooks/
        here = Path.cwd().resolve()
    repo = here.parent
    if (repo / "pyproject.toml").is_file() and (repo / "notebooks").is_dir():
        return repo / "data"
    return Path.home() / ".cache" / "d2l_local"


# ---- notebooks/19_appendix_data_tools.ipynb · cell id ch19-09 ----
def _sha1_of(path):
    digest = hashlib.sha1()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _ways_to_get_data(folder):
    return ("任选一种办法提供数据：\n"
            "  (1) 把环境变量 D2L_DATA_DIR 设为一个含有 fra-eng/fra.txt 的文件夹；\n"
            f"  (2) 把 fra-eng/fra.txt（或压缩包 fra-eng.zip）放进缓存文件夹 {folder}"
            "（也可用 D2L_CACHE_DIR 换一个缓存文件夹）；\n"
            "  (3) 连上网络后重新运行。")


def download(url, sha1, folder, timeout=60):
    """把 url 下载到 folder 并核对 SHA-1，返回文件路径（Path）。

    先写入 <文件名>.part，校验通过后才用 os.replace 改名到位，所以已有的好文件
    不会被坏文件覆盖。folder 里已有校验正确的同名文件时直接返回它，不访问网络。
    校验和不对或网络出错都抛出 d2l.DataError。
    """
    folder = Path(folder)
    name = Path(urllib.parse.urlparse(url).path).name or "download"
    target = folder / name
    stale = ""
    if target.is_file():
        if _sha1_of(target) == sha1:
            return target
        stale = f"（{target} 已存在，但校验和不对，没有使用它。）\n"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        part = open(folder / (name + ".part"), "wb")
    except OSError as error:
        raise d2l.DataError(f"无法在 {folder} 里写文件（{error}）。"
                            "请用环境变量 D2L_CACHE_DIR 指定一个可写的文件夹。") from error
    part_path = Path(part.name)
    digest = hashlib.sha1()
    try:
        with part, urllib.request.urlopen(url, timeout=timeout) as response:
            for chunk in iter(lambda: response.read(1 << 20), b""):
                digest.update(chunk)
                part.write(chunk)
    except OSError as error:  # URLError、超时、连接被拒都是 OSError
        part_path.unlink(missing_ok=True)
        raise d2l.DataError(f"无法下载 {url}（{error}）。\n{stale}" + _ways_to_get_data(folder)) from error
    except BaseException:  # 例如按了 Ctrl-C：同样不留下 .part 文件
        part_path.unlink(missing_ok=True)
        raise
    got = digest.hexdigest()
    if got != sha1:
        part_path.unlink(missing_ok=True)
        raise d2l.DataError(f"下载的 {name} 校验和（SHA-1 checksum）不对：应为 {sha1}，"
                            f"实际为 {got}。这个文件不完整或被改动过，已删除。"
                            "请稍后重试，或改用下面的办法：\n" + _ways_to_get_data(folder))
    os.replace(part_path, target)
    return target


# ---- notebooks/19_appendix_data_tools.ipynb · cell id ch19-15 ----
def extract_zip(zip_path, folder):
    """把 zip_path 解压到 folder。先检查全部成员，任何一个会落到 folder 之外
    （如 ../x、绝对路径、符号链接）就抛出 d2l.DataError，一个文件也不解压。"""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    root = folder.resolve()
    try:
        archive = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError) as error:
        raise d2l.DataError(f"{zip_path} 不是完好的 zip 文件（{error}）。"
                            "请删除它后重新下载。") from error
    with archive:
        plan = []
        for info in archive.infolist():
            name = info.filename
            is_link = stat.S_ISLNK(info.external_attr >> 16)
            absolute = name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name)
            dest = (root / name).resolve()
            if is_link or absolute or "\\" in name or not dest.is_relative_to(root):
                raise d2l.DataError(f"拒绝解压 {zip_path}：成员 {name!r} 会写到 {folder} 之外"
                                    "（或是符号链接）。这个压缩包不可信，请删除它。")
            plan.append((info, dest))
        for info, dest in plan:
            if info.is_dir():
                dest.mkdir(parents=True, exist_ok=True)
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            part = dest.with_name(dest.name + ".part")
            with archive.open(info) as src, open(part, "wb") as out:
                for chunk in iter(lambda: src.read(1 << 20), b""):
                    out.write(chunk)
            os.replace(part, dest)  # 解压到一半中断也不会留下残缺的文件


# ---- notebooks/19_appendix_data_tools.ipynb · cell id ch19-19 ----
def find_fra_eng(url=FRA_ENG_URL, sha1=FRA_ENG_SHA1):
    """返回英法语料 fra-eng/fra.txt 的路径（Path）。

    依次查找：$D2L_DATA_DIR/fra-eng/fra.txt、cache_dir()/fra-eng/fra.txt；
    都没有时把 zip 下载到 cache_dir() 并解压。取不到时抛出 d2l.DataError。
    """
    member = Path("fra-eng", "fra.txt")
    note = ""
    data_dir = os.environ.get("D2L_DATA_DIR")
    if data_dir:
        candidate = Path(data_dir).expanduser() / member
        if candidate.is_file():
            return candidate
        note = f"\n注意：已设置 D2L_DATA_DIR={data_dir}，但其中没有 {member.as_posix()}。"
    folder = cache_dir()
    candidate = folder / member
    if candidate.is_file():
        return candidate
    try:
        extract_zip(download(url, sha1, folder), folder)
    except d2l.DataError as error:
        raise d2l.DataError(f"{error}{note}") from error
    if not candidate.is_file():
        raise d2l.DataError(f"压缩包里没有 {member.as_posix()}。请删除 {folder} 里的 "
                            "fra-eng.zip 后重新下载。" + note)
    return candidate
