# ======================================================================================
# GENERATED FILE — DO NOT EDIT.
# Generated from notebooks/ — edit the notebook, then regenerate:  python -m booktools.extract
# Every block below comes from a `#@save` cell; its provenance line names the notebook
# and cell. `python -m booktools.extract --check` (run by the tests) fails when this file is stale.
# ======================================================================================
"""10. 注意力汇聚: the saved code of notebooks/10_attention_pooling.ipynb (generated)."""

import torch
from matplotlib import pyplot as plt
import d2l_local as d2l  # other chapters' names: d2l.name

__all__ = [
    'show_heatmaps',
]


# ---- notebooks/10_attention_pooling.ipynb · cell id ch10-018 ----
def show_heatmaps(matrices, xlabel, ylabel, titles=None, figsize=(2.5, 2.5), cmap='Reds'):
    """把一组矩阵（通常是注意力权重）画成热图网格，所有子图共用一个色阶和一个色条。

    - matrices：形状 (num_rows, num_cols, num_queries, num_keys) 的张量或数组，第 [i, j] 个矩阵
      画在第 i 行第 j 列；单个二维矩阵也可以直接传入。张量可以在任何设备上，可以需要梯度。
    - xlabel、ylabel：横轴（键）和纵轴（查询）的说明，写在最下一行和最左一列。
    - titles：每一列的标题，长度为 num_cols 的列表；可省略。
    - figsize：整幅图的大小（英寸）；cmap：颜色表。
    返回 None；图由 matplotlib 显示，需要时用 plt.gcf() 取得。
    """
    if torch.is_tensor(matrices):
        matrices = matrices.detach().cpu()
    matrices = torch.as_tensor(matrices).float()
    if matrices.dim() == 2:
        matrices = matrices[None, None]
    if matrices.dim() != 4 or matrices.numel() == 0:
        raise ValueError(f"matrices 的形状应为 (num_rows, num_cols, num_queries, num_keys)，且不能为空；"
                         f"现在是 {tuple(matrices.shape)}。一个批量的权重 (batch_size, num_queries, num_keys) "
                         "可以写成 weights.unsqueeze(0)，画成一行。")
    num_rows, num_cols = matrices.shape[:2]
    if titles is not None and len(titles) != num_cols:
        raise ValueError(f"titles 应有 {num_cols} 个（每列一个），现在有 {len(titles)} 个。")
    vmin, vmax = matrices.min().item(), matrices.max().item()  # 所有子图共用的色阶
    fig, axes = plt.subplots(num_rows, num_cols, figsize=figsize, sharex=True, sharey=True, squeeze=False)
    for i in range(num_rows):
        for j in range(num_cols):
            ax = axes[i, j]
            image = ax.imshow(matrices[i, j].numpy(), cmap=cmap, vmin=vmin, vmax=vmax)
            if i == num_rows - 1:
                ax.set_xlabel(xlabel)
            if j == 0:
                ax.set_ylabel(ylabel)
            if titles is not None:
                ax.set_title(titles[j])
    fig.colorbar(image, ax=axes, shrink=0.6)
