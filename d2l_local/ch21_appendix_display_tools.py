# ======================================================================================
# GENERATED FILE — DO NOT EDIT.
# Generated from notebooks/ — edit the notebook, then regenerate:  python -m booktools.extract
# Every block below comes from a `#@save` cell; its provenance line names the notebook
# and cell. `python -m booktools.extract --check` (run by the tests) fails when this file is stale.
# ======================================================================================
"""附录 A.3 显示的工具: the saved code of notebooks/21_appendix_display_tools.ipynb (generated)."""

import importlib.resources
import matplotlib
from matplotlib import font_manager
import d2l_local as d2l  # other chapters' names: d2l.name

__all__ = [
    'CHINESE_FONT_FILE',
    'use_chinese_font',
    'CHINESE_FONT_NAME',
]


# ---- notebooks/21_appendix_display_tools.ipynb · cell id ch21-04 ----
CHINESE_FONT_FILE = 'NotoSansCJKsc-Regular-subset.otf'


def use_chinese_font():
    """让 matplotlib 能画中文：登记本书附带的中文字体，并把它放进 font.family 的回退列表。

    西文字符仍用 DejaVu Sans，缺的字形（汉字、中文标点）回退到这个字体。返回字体族的名字。
    可以重复调用；import d2l_local 时已自动调用一次。"""
    resource = importlib.resources.files('d2l_local').joinpath('data', 'fonts', CHINESE_FONT_FILE)
    with importlib.resources.as_file(resource) as path:
        if not path.is_file():
            raise FileNotFoundError(
                f'找不到本书附带的中文字体 {path}：代码包 d2l_local 的安装不完整。'
                '请重新安装（本地：在仓库根目录运行 `pip install -e .`；Colab：重新运行第一个单元格）。')
        font_manager.fontManager.addfont(str(path))
        name = font_manager.FontProperties(fname=str(path)).get_name()
    families = [f for f in matplotlib.rcParams['font.family'] if f not in ('sans-serif', name)]
    matplotlib.rcParams['font.family'] = (families or ['DejaVu Sans']) + [name]
    return name


CHINESE_FONT_NAME = use_chinese_font()  # import d2l_local 时执行
