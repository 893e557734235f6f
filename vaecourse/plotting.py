"""Figures of the course (notebooks 00-09). Every helper takes ``ax=None`` and returns the ``Figure``.

Notebooks assign the result (``fig = vc.plotting.image_grid(...)``): a bare call at the end of a cell
would show the figure twice. No helper calls ``plt.show()``.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure



def _axes(ax: Axes | None, figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    if ax is not None:
        return ax.figure, ax
    fig, ax = plt.subplots(figsize=figsize)
    return fig, ax


def image_grid(images, *, nrow: int = 10, title: str | None = None, ax: Axes | None = None,
               scale: float = 0.6) -> Figure:
    """Show a batch ``(N, C, H, W)`` (values in [0, 1]) as one grid image, ``nrow`` images per row."""
    # Imported here: importing torchvision pulls in torch._dynamo, seconds that `import vaecourse`
    # should not cost a notebook or an autograded exercise that draws no grid.
    from torchvision.utils import make_grid

    images = torch.as_tensor(images).detach().cpu().float()
    if images.dim() == 3:
        images = images.unsqueeze(1)
    if images.dim() != 4:
        raise ValueError(f"images must have shape (N, C, H, W) or (N, H, W), got {tuple(images.shape)}")
    grid = make_grid(images.clamp(0, 1), nrow=nrow, padding=2, pad_value=0.5)
    num_rows = int(np.ceil(len(images) / nrow))
    columns = min(nrow, len(images))
    fig, ax = _axes(ax, (scale * columns, scale * num_rows + (0.4 if title else 0.1)))
    ax.imshow(grid.permute(1, 2, 0).numpy() if grid.shape[0] == 3 else grid[0].numpy(),
              cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return fig


def latent_scatter(z, labels=None, *, ax: Axes | None = None, title: str | None = None,
                   max_points: int = 5000) -> Figure:
    """Scatter of 2-D codes ``(N, 2)``, coloured by class label when given (with a legend)."""
    z = torch.as_tensor(z).detach().cpu()
    if z.dim() != 2 or z.shape[1] != 2:
        raise ValueError(f"latent_scatter plots 2-D codes (N, 2); got {tuple(z.shape)}: project first (e.g. PCA)")
    z = z[:max_points].numpy()
    fig, ax = _axes(ax, (5.0, 4.5))
    if labels is None:
        ax.scatter(z[:, 0], z[:, 1], s=4, alpha=0.6)
    else:
        labels = torch.as_tensor(labels).detach().cpu()[:max_points].numpy()
        scatter = ax.scatter(z[:, 0], z[:, 1], c=labels, cmap="tab10", s=4, alpha=0.7,
                             vmin=-0.5, vmax=9.5)
        ax.legend(*scatter.legend_elements(), title="label", loc="center left", bbox_to_anchor=(1.0, 0.5),
                  fontsize="small", markerscale=0.8)
    ax.set_xlabel("$z_1$")
    ax.set_ylabel("$z_2$")
    if title:
        ax.set_title(title)
    return fig


def strip(rows, *, row_labels: list[str] | None = None, column_labels: list[str] | None = None,
          title: str | None = None, scale: float = 0.7) -> Figure:
    """Rows of images side by side: ``rows`` is ``(R, K, C, H, W)`` (R strips of K images) or ``(K, C, H, W)``.

    The common shape of latent traversals (one row per latent dimension, one column per value) and of
    interpolations (one row per pair, one column per step).
    """
    rows = torch.as_tensor(rows).detach().cpu().float()
    if rows.dim() == 4:
        rows = rows.unsqueeze(0)
    if rows.dim() != 5:
        raise ValueError(f"rows must have shape (R, K, C, H, W) or (K, C, H, W), got {tuple(rows.shape)}")
    num_rows, num_columns = rows.shape[:2]
    fig, axes = plt.subplots(num_rows, num_columns, squeeze=False,
                             figsize=(scale * num_columns + (1.0 if row_labels else 0.2),
                                      scale * num_rows + (0.5 if title or column_labels else 0.1)))
    for r in range(num_rows):
        for k in range(num_columns):
            ax = axes[r, k]
            image = rows[r, k].clamp(0, 1)
            ax.imshow(image.permute(1, 2, 0).numpy() if image.shape[0] == 3 else image[0].numpy(),
                      cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if column_labels and r == 0:
                ax.set_title(column_labels[k], fontsize="small")
        if row_labels:
            axes[r, 0].set_ylabel(row_labels[r], rotation=0, ha="right", va="center", fontsize="small")
    if title:
        fig.suptitle(title)
    return fig


def traversal_strip(decode, z_base, *, dims=None, values=None, title: str | None = None) -> Figure:
    """Decode ``z_base`` ``(D,)`` with one latent dimension at a time set to each of ``values``.

    ``decode`` maps a ``(B, D)`` batch to images ``(B, C, H, W)`` (e.g. ``lambda z: model.decode(z).mean``).
    One row per dimension in ``dims`` (default: all), one column per value (default: -3..3 in 7 steps).
    """
    z_base = torch.as_tensor(z_base).detach().float().flatten()
    dims = list(range(len(z_base))) if dims is None else list(dims)
    values = torch.linspace(-3, 3, 7) if values is None else torch.as_tensor(values, dtype=torch.float32)
    codes = z_base.repeat(len(dims), len(values), 1)  # (R, K, D)
    for r, d in enumerate(dims):
        codes[r, :, d] = values
    with torch.no_grad():
        images = decode(codes.flatten(0, 1))
    return strip(images.unflatten(0, (len(dims), len(values))), row_labels=[f"z{d}" for d in dims],
                 column_labels=[f"{v:.1f}" for v in values.tolist()], title=title)


def interpolation_strip(decode, z_start, z_end, *, num_steps: int = 8, method: str = "linear",
                        title: str | None = None) -> Figure:
    """Decode the path from ``z_start`` to ``z_end`` (each ``(D,)`` or ``(R, D)`` for R strips).

    ``method="linear"`` is straight-line interpolation; ``"spherical"`` (slerp) keeps the norm typical of
    a high-dimensional Gaussian, which a straight line between two draws does not.
    """
    path = interpolate(torch.as_tensor(z_start).float(), torch.as_tensor(z_end).float(), num_steps, method)
    with torch.no_grad():
        images = decode(path.flatten(0, 1))
    return strip(images.unflatten(0, path.shape[:2]), title=title)


def interpolate(z_start: torch.Tensor, z_end: torch.Tensor, num_steps: int, method: str = "linear") -> torch.Tensor:
    """Points along a path between codes: ``(R, num_steps, D)`` for ``(R, D)`` inputs (or ``(D,)``)."""
    z_start, z_end = torch.atleast_2d(z_start), torch.atleast_2d(z_end)
    if z_start.shape != z_end.shape:
        raise ValueError(f"z_start and z_end must have the same shape, got {tuple(z_start.shape)} and {tuple(z_end.shape)}")
    t = torch.linspace(0, 1, num_steps).view(1, -1, 1)
    a, b = z_start.unsqueeze(1), z_end.unsqueeze(1)
    if method == "linear":
        return (1 - t) * a + t * b
    if method == "spherical":
        cos = torch.nn.functional.cosine_similarity(a, b, dim=-1).clamp(-1 + 1e-7, 1 - 1e-7).unsqueeze(-1)
        omega = torch.arccos(cos)
        return (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / torch.sin(omega)
    raise ValueError(f"unknown interpolation method {method!r}; use 'linear' or 'spherical'")


def loss_curves(history, *, terms=None, ax: Axes | None = None, title: str | None = None) -> Figure:
    """Per-epoch training (solid) and validation (dashed) curves of a :class:`vaecourse.train.History`."""
    fig, ax = _axes(ax, (5.5, 3.5))
    for name in terms or list(history.train):
        line, = ax.plot(range(1, len(history.train[name]) + 1), history.train[name], label=f"{name} (train)")
        if history.val.get(name):
            ax.plot(range(1, len(history.val[name]) + 1), history.val[name], "--", color=line.get_color(),
                    label=f"{name} (validation)")
    ax.set_xlabel("epoch")
    ax.set_ylabel("nats per example")
    ax.legend(fontsize="small")
    if title:
        ax.set_title(title)
    return fig
