"""Chapter 10: show_heatmaps (one shared colour scale) and the attention-pooling examples."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib import pyplot as plt  # noqa: E402

import d2l_local as d2l  # noqa: E402


# ---------------------------------------------------------------- show_heatmaps


def test_show_heatmaps_draws_a_grid_with_one_shared_color_scale():
    plt.close("all")
    weights = torch.rand(2, 3, 4, 5, requires_grad=True) * 2  # non-leaf, requires grad
    assert d2l.show_heatmaps(weights, xlabel="Keys", ylabel="Queries", titles=["a", "b", "c"]) is None
    fig = plt.gcf()
    image_axes = [ax for ax in fig.axes if ax.images]
    assert len(image_axes) == 6 and len(fig.axes) == 7      # 6 heat-maps + 1 colour bar
    clims = {ax.images[0].get_clim() for ax in image_axes}
    assert len(clims) == 1                                  # one colour scale for all
    lo, hi = clims.pop()
    assert lo == pytest.approx(weights.min().item()) and hi == pytest.approx(weights.max().item())
    assert [ax.get_title() for ax in image_axes[:3]] == ["a", "b", "c"]
    plt.close(fig)


def test_show_heatmaps_accepts_arrays_and_single_matrices():
    plt.close("all")
    d2l.show_heatmaps(np.eye(3).reshape(1, 1, 3, 3), xlabel="x", ylabel="y")
    d2l.show_heatmaps(torch.eye(4), xlabel="x", ylabel="y")           # a single 2-D matrix
    d2l.show_heatmaps(torch.eye(4, dtype=torch.float16)[None, None], xlabel="x", ylabel="y")
    assert len(plt.get_fignums()) == 3
    plt.close("all")


def test_show_heatmaps_errors():
    with pytest.raises(ValueError, match="unsqueeze"):
        d2l.show_heatmaps(torch.rand(2, 3, 4), xlabel="x", ylabel="y")
    with pytest.raises(ValueError, match="titles"):
        d2l.show_heatmaps(torch.rand(1, 2, 3, 3), xlabel="x", ylabel="y", titles=["only one"])
    plt.close("all")


def test_show_heatmaps_with_chinese_labels_draws_without_warnings(recwarn):
    """The book's labels are Chinese; importing d2l_local registers a CJK font, so no missing-glyph warning."""
    plt.close("all")
    d2l.show_heatmaps(torch.rand(1, 2, 3, 3), xlabel="训练输入（已排序）", ylabel="测试输入", titles=["w = 1", "学到的 w"])
    plt.gcf().canvas.draw()
    assert not [w for w in recwarn if "glyph" in str(w.message).lower()]
    plt.close("all")
