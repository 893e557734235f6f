"""Interactive widgets (ipywidgets) for the lecture notebooks.

- :func:`latent_explorer` (notebook 01, and 02 for a 2-D VAE): move a point through a 2-D latent space
  and see the decoded digit next to the codes of the data.
- :func:`select_explorer` (notebook 03: the noise-factor control): one figure per setting, picked
  with a slider.
- :func:`traversal_explorer` (notebook 08): choose a model, a latent dimension and a value; see the
  decoded image.

Each widget draws its initial state when it is built, so a notebook executed without a front end
(nbval, nbconvert, CI) runs it without error, and someone reading the executed notebook in
JupyterLab sees a figure before touching anything. Figures are rendered to PNG and closed at once
(no figure leaks, no double display by the inline backend) and put into an ``Output`` widget by
setting its ``outputs``, which works with or without a kernel. The returned container keeps its
controls as attributes (``.sliders`` / ``.control`` and ``.output``), so a test can move a control
and look at what was drawn. In the browser, the same parts carry CSS classes (:func:`_mark`): the
container ``vaecourse-widget``, each control ``vaecourse-control``, the figure ``vaecourse-output``;
tests/test_browser.py finds them by these.

ipywidgets is imported inside the functions: ``import vaecourse`` does not pay for it.
"""

from __future__ import annotations

import base64
import io

import matplotlib.pyplot as plt
import torch

from vaecourse.latent import decode_mean
from vaecourse.plotting import latent_scatter


def _show(output, fig, description: str) -> None:
    """Replace what ``output`` shows by ``fig`` as a PNG (with ``description`` as its text), then close ``fig``."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    png = base64.b64encode(buffer.getvalue()).decode("ascii")
    output.outputs = ({"output_type": "display_data", "metadata": {},
                       "data": {"image/png": png, "text/plain": description}},)


def _mark(container, controls, output):
    """Tag the parts with the CSS classes the browser tests look for; return ``container``."""
    container.add_class("vaecourse-widget")
    for control in controls:
        control.add_class("vaecourse-control")
    output.add_class("vaecourse-output")
    return container


def latent_explorer(model, codes, labels, *, start=None):
    """Two sliders (z1, z2) over a 2-D latent space; shows the codes and the decoded digit at the point.

    Parameters
    ----------
    model : a trained model with a 2-D latent space and ``decode(z)`` (an AE or a VAE).
    codes : ``(N, 2)`` codes of the data (e.g. :func:`vaecourse.latent.encode_dataset`); the sliders
        span their bounding box plus a 10% margin on each side.
    labels : ``(N,)`` class labels, to colour the scatter.
    start : optional ``(2,)`` starting point; default: the median code.

    Returns
    -------
    An ``ipywidgets.VBox`` with attributes ``sliders`` (the two ``FloatSlider``) and ``output``.
    """
    import ipywidgets as widgets

    codes = torch.as_tensor(codes).detach().cpu().float()
    labels = torch.as_tensor(labels).detach().cpu()
    if codes.dim() != 2 or codes.shape[1] != 2:
        raise ValueError(f"latent_explorer needs 2-D codes (N, 2), got {tuple(codes.shape)}")
    if labels.shape != codes.shape[:1]:
        raise ValueError(f"labels must have shape ({len(codes)},), got {tuple(labels.shape)}")
    if getattr(model, "latent_dim", 2) != 2:
        raise ValueError(f"latent_explorer needs a model with a 2-D latent space, got latent_dim={model.latent_dim}")
    low, high = codes.min(dim=0).values, codes.max(dim=0).values
    margin = 0.1 * (high - low)
    low, high = low - margin, high + margin
    start = codes.median(dim=0).values if start is None else torch.as_tensor(start, dtype=torch.float32).flatten()
    if start.shape != (2,):
        raise ValueError(f"start must be a point (2,), got {tuple(start.shape)}")

    sliders = tuple(
        widgets.FloatSlider(value=float(start[i].clamp(low[i], high[i])), min=float(low[i]), max=float(high[i]),
                            step=float(high[i] - low[i]) / 200, description=f"z{i + 1}", readout_format=".2f",
                            continuous_update=False)  # redraw on release: one figure takes ~0.1 s
        for i in range(2))
    output = widgets.Output()

    def redraw(change=None):
        z = torch.tensor([[sliders[0].value, sliders[1].value]])
        image = decode_mean(model, z)[0, 0]
        nearest = int(torch.cdist(z, codes).argmin())
        fig, (ax_codes, ax_digit) = plt.subplots(1, 2, figsize=(8.5, 3.8), width_ratios=(1.5, 1),
                                                 layout="constrained")
        latent_scatter(codes, labels, ax=ax_codes, title="codes of the data")
        ax_codes.set(xlim=(low[0].item(), high[0].item()), ylim=(low[1].item(), high[1].item()))  # the sliders' range
        ax_codes.plot(*z[0].tolist(), marker="X", color="black", markersize=12, markeredgecolor="white")
        ax_digit.imshow(image.numpy(), cmap="gray", vmin=0, vmax=1)
        ax_digit.set_axis_off()
        ax_digit.set_title(f"decoded; nearest code is a {int(labels[nearest])}")
        description = f"decoded digit at z = ({z[0, 0]:.3g}, {z[0, 1]:.3g})"
        fig.suptitle(description)
        _show(output, fig, description)

    for slider in sliders:
        slider.observe(redraw, names="value")
    redraw()
    container = widgets.VBox([widgets.HBox(list(sliders)), output])
    container.sliders, container.output = sliders, output
    return _mark(container, sliders, output)


def select_explorer(options: dict, *, description: str = "setting"):
    """A slider over the keys of ``options`` (``{label: draw_fn}``); shows ``draw_fn()`` of the selected one.

    Each ``draw_fn`` takes no argument and returns a matplotlib ``Figure``; it is called each time its
    label is selected (the first label is drawn at once). The labels keep their dict order.

    Returns
    -------
    An ``ipywidgets.VBox`` with attributes ``control`` (the ``SelectionSlider``) and ``output``.
    """
    import ipywidgets as widgets

    if not isinstance(options, dict) or not options:
        raise ValueError("options must be a non-empty dict {label: draw_fn}")
    not_callable = [label for label, draw in options.items() if not callable(draw)]
    if not_callable:
        raise ValueError(f"every option needs a function that returns a Figure; not callable: {not_callable}")
    labels = [str(label) for label in options]
    draw_fns = dict(zip(labels, options.values()))
    if len(draw_fns) != len(options):
        raise ValueError(f"option labels must stay distinct as text, got {list(options)}")

    # A slider is 300 px wide by default, its description included: a long description (notebook 09's)
    # left the track no width at all, seen in the browser tests. Room for both:
    control = widgets.SelectionSlider(options=labels, value=labels[0], description=description,
                                      continuous_update=False, style={"description_width": "initial"},
                                      layout=widgets.Layout(width="100%", max_width="760px"))
    output = widgets.Output()

    def redraw(change=None):
        fig = draw_fns[control.value]()
        if not isinstance(fig, plt.Figure):
            raise TypeError(f"the function for {control.value!r} must return a Figure, got {type(fig).__name__}")
        _show(output, fig, f"{description} = {control.value}")

    control.observe(redraw, names="value")
    redraw()
    container = widgets.VBox([control, output])
    container.control, container.output = control, output
    return _mark(container, [control], output)


def traversal_explorer(models: dict, base_codes: dict, *, value_range: tuple[float, float] = (-3.0, 3.0)):
    """Pick a model, a latent dimension and a value; see the image decoded with that one coordinate changed.

    Parameters
    ----------
    models : ``{label: model}``, each with ``decode(z)`` and ``latent_dim`` (e.g. beta-VAEs, notebook 08).
    base_codes : ``{label: (latent_dim,) code}``, the point each model's traversal starts from (e.g.
        the posterior mean of one image); the chosen coordinate is replaced by the slider's value.
    value_range : the slider's range.

    Returns
    -------
    An ``ipywidgets.VBox`` with attributes ``model``, ``dimension`` and ``value`` (the three controls)
    and ``output``.
    """
    import ipywidgets as widgets

    if not isinstance(models, dict) or not models:
        raise ValueError("models must be a non-empty dict {label: model}")
    if set(base_codes) != set(models):
        raise ValueError(f"base_codes needs one code per model; models {sorted(models)}, codes {sorted(base_codes)}")
    codes = {}
    for label, model in models.items():
        code = torch.as_tensor(base_codes[label]).detach().cpu().float().flatten()
        if code.shape != (model.latent_dim,):
            raise ValueError(f"base code of {label!r} must have shape ({model.latent_dim},), got {tuple(code.shape)}")
        codes[label] = code
    low, high = (float(v) for v in value_range)
    if not low < high:
        raise ValueError(f"value_range must be (low, high) with low < high, got {value_range}")

    labels = list(models)
    model_control = widgets.Dropdown(options=labels, value=labels[0], description="model")
    dimension_control = widgets.IntSlider(value=0, min=0, max=models[labels[0]].latent_dim - 1, description="latent",
                                          continuous_update=False)
    value_control = widgets.FloatSlider(value=0.0, min=low, max=high, step=(high - low) / 100, description="value",
                                        readout_format=".2f", continuous_update=False)
    output = widgets.Output()

    def redraw(change=None):
        label, dimension = model_control.value, dimension_control.value
        z = codes[label].clone()
        z[dimension] = value_control.value
        image = decode_mean(models[label], z[None])[0]
        fig, ax = plt.subplots(figsize=(3, 3.2), layout="constrained")
        ax.imshow(image[0].numpy(), cmap="gray", vmin=0, vmax=1)
        ax.set_axis_off()
        description = f"{label}: z{dimension} = {value_control.value:.2f}"
        ax.set_title(description, fontsize=9)
        _show(output, fig, description)

    def change_model(change):
        dimension_control.max = models[model_control.value].latent_dim - 1  # clamps the value if needed
        redraw()

    model_control.observe(change_model, names="value")
    dimension_control.observe(redraw, names="value")
    value_control.observe(redraw, names="value")
    redraw()
    container = widgets.VBox([widgets.HBox([model_control, dimension_control, value_control]), output])
    container.model, container.dimension, container.value, container.output = (model_control, dimension_control,
                                                                                value_control, output)
    return _mark(container, [model_control, dimension_control, value_control], output)
