"""Unit tests of vaecourse.widgets, headless: build each widget, move its control, check the redraw."""

import ast
import base64
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display in CI; set before pyplot draws anything

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from vaecourse import models, widgets  # noqa: E402

PNG_SIGNATURE = b"\x89PNG"


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture
def ae_2d():
    torch.manual_seed(0)
    return models.AE(latent_dim=2, hidden=(16,))


def codes_and_labels(n: int = 200, dim: int = 2):
    generator = torch.Generator().manual_seed(0)
    return torch.randn(n, dim, generator=generator), torch.randint(0, 10, (n,), generator=generator)


def shown(output) -> tuple[str, bytes]:
    """The one output an Output widget shows: its text and its PNG bytes."""
    assert len(output.outputs) == 1
    data = output.outputs[0]["data"]
    return data["text/plain"], base64.b64decode(data["image/png"])


# ------------------------------------------------------------------------------- latent_explorer
def test_latent_explorer_draws_its_initial_state(ae_2d):
    codes, labels = codes_and_labels()
    explorer = widgets.latent_explorer(ae_2d, codes, labels)
    text, png = shown(explorer.output)
    assert png.startswith(PNG_SIGNATURE)
    median = codes.median(dim=0).values
    assert [s.value for s in explorer.sliders] == pytest.approx(median.tolist())
    assert text == f"decoded digit at z = ({median[0]:.3g}, {median[1]:.3g})"
    assert plt.get_fignums() == [], "the figure must be closed once it is rendered"


def test_latent_explorer_sliders_span_the_box_with_a_margin(ae_2d):
    codes, labels = codes_and_labels()
    explorer = widgets.latent_explorer(ae_2d, codes, labels, start=(0.5, -0.5))
    for i, slider in enumerate(explorer.sliders):
        low, high = codes[:, i].min().item(), codes[:, i].max().item()
        assert slider.min == pytest.approx(low - 0.1 * (high - low), rel=1e-5)
        assert slider.max == pytest.approx(high + 0.1 * (high - low), rel=1e-5)
    assert [s.value for s in explorer.sliders] == pytest.approx([0.5, -0.5])


def test_moving_a_slider_redraws(ae_2d):
    codes, labels = codes_and_labels()
    explorer = widgets.latent_explorer(ae_2d, codes, labels)
    before = shown(explorer.output)
    explorer.sliders[0].value = explorer.sliders[0].max
    after = shown(explorer.output)
    assert after[0] != before[0] and after[1] != before[1]
    assert after[0].startswith(f"decoded digit at z = ({explorer.sliders[0].max:.3g},")
    explorer.sliders[1].value = explorer.sliders[1].min
    assert shown(explorer.output)[0].endswith(f", {explorer.sliders[1].min:.3g})")
    assert plt.get_fignums() == []


def test_latent_explorer_works_for_a_vae():
    torch.manual_seed(0)
    vae = models.VAE(latent_dim=2, hidden=(16,))
    codes, labels = codes_and_labels()
    explorer = widgets.latent_explorer(vae, codes, labels)
    assert shown(explorer.output)[1].startswith(PNG_SIGNATURE)


def test_latent_explorer_rejects_codes_that_are_not_2d(ae_2d):
    codes, labels = codes_and_labels(dim=16)
    with pytest.raises(ValueError, match="2-D codes"):
        widgets.latent_explorer(ae_2d, codes, labels)
    with pytest.raises(ValueError, match="2-D codes"):
        widgets.latent_explorer(ae_2d, codes[:, 0], labels)


def test_latent_explorer_rejects_a_model_that_is_not_2d():
    model = models.AE(latent_dim=16, hidden=(16,))
    codes, labels = codes_and_labels()
    with pytest.raises(ValueError, match="latent_dim=16"):
        widgets.latent_explorer(model, codes, labels)


def test_latent_explorer_rejects_bad_labels_and_start(ae_2d):
    codes, labels = codes_and_labels()
    with pytest.raises(ValueError, match="labels"):
        widgets.latent_explorer(ae_2d, codes, labels[:-1])
    with pytest.raises(ValueError, match="start"):
        widgets.latent_explorer(ae_2d, codes, labels, start=(0.0, 0.0, 0.0))


# ------------------------------------------------------------------------------- select_explorer
def titled_figure(title: str):
    def draw():
        fig, ax = plt.subplots(figsize=(2, 2))
        ax.set_title(title)
        ax.plot([0, 1], [0, len(title)])
        return fig
    return draw


def test_select_explorer_draws_the_first_option_and_redraws_on_change():
    calls = []

    def counted(title):
        draw = titled_figure(title)
        return lambda: calls.append(title) or draw()

    explorer = widgets.select_explorer({0.0: counted("no noise"), 0.05: counted("some noise"),
                                        0.5: counted("much noise")}, description="noise factor")
    assert explorer.control.options == ("0.0", "0.05", "0.5")
    assert calls == ["no noise"]
    text, png = shown(explorer.output)
    assert text == "noise factor = 0.0" and png.startswith(PNG_SIGNATURE)
    explorer.control.value = "0.5"
    assert calls == ["no noise", "much noise"]
    text, new_png = shown(explorer.output)
    assert text == "noise factor = 0.5" and new_png != png
    assert plt.get_fignums() == []


@pytest.mark.parametrize("options", [{}, [titled_figure("a")], {"a": "not a function"}, {1: titled_figure("a"),
                                                                                          "1": titled_figure("b")}])
def test_select_explorer_rejects_bad_options(options):
    with pytest.raises(ValueError):
        widgets.select_explorer(options)


def test_select_explorer_rejects_a_draw_function_without_a_figure():
    with pytest.raises(TypeError, match="Figure"):
        widgets.select_explorer({"a": lambda: None})


# --------------------------------------------------------------------------- traversal_explorer
@pytest.fixture
def two_vaes():
    torch.manual_seed(0)
    return {"beta = 1": models.VAE(latent_dim=3, hidden=(16,)), "beta = 4": models.VAE(latent_dim=5, hidden=(16,))}


def test_traversal_explorer_redraws_for_each_control(two_vaes):
    explorer = widgets.traversal_explorer(two_vaes, {"beta = 1": torch.zeros(3), "beta = 4": torch.zeros(5)})
    text, png = shown(explorer.output)
    assert text == "beta = 1: z0 = 0.00" and png.startswith(PNG_SIGNATURE)
    seen = {png}
    explorer.value.value = 2.5
    text, png = shown(explorer.output)
    assert text == "beta = 1: z0 = 2.50" and png not in seen
    seen.add(png)
    explorer.dimension.value = 2
    text, png = shown(explorer.output)
    assert text == "beta = 1: z2 = 2.50" and png not in seen
    seen.add(png)
    explorer.model.value = "beta = 4"
    assert explorer.dimension.max == 4
    text, png = shown(explorer.output)
    assert text.startswith("beta = 4: z2") and png not in seen
    assert plt.get_fignums() == []


def test_traversal_explorer_rejects_bad_input(two_vaes):
    with pytest.raises(ValueError, match="non-empty dict"):
        widgets.traversal_explorer({}, {})
    with pytest.raises(ValueError, match="one code per model"):
        widgets.traversal_explorer(two_vaes, {"beta = 1": torch.zeros(3)})
    with pytest.raises(ValueError, match=r"shape \(5,\)"):
        widgets.traversal_explorer(two_vaes, {"beta = 1": torch.zeros(3), "beta = 4": torch.zeros(3)})
    with pytest.raises(ValueError, match="low < high"):
        widgets.traversal_explorer(two_vaes, {"beta = 1": torch.zeros(3), "beta = 4": torch.zeros(5)}, value_range=(1, 1))


# ---------------------------------------------------------------------- browser hooks, import cost
def test_every_part_carries_the_css_class_the_browser_tests_look_for(ae_2d, two_vaes):
    codes, labels = codes_and_labels()
    latent = widgets.latent_explorer(ae_2d, codes, labels)
    select = widgets.select_explorer({"a": plt.figure, "b": plt.figure})
    traversal = widgets.traversal_explorer(two_vaes, {"beta = 1": torch.zeros(3), "beta = 4": torch.zeros(5)})
    for explorer, controls in [(latent, latent.sliders), (select, [select.control]),
                               (traversal, [traversal.model, traversal.dimension, traversal.value])]:
        assert "vaecourse-widget" in explorer._dom_classes
        assert all("vaecourse-control" in control._dom_classes for control in controls)
        assert "vaecourse-output" in explorer.output._dom_classes


def test_ipywidgets_is_imported_only_inside_the_functions():
    """`import vaecourse` must not pay for ipywidgets (checked on the source: a subprocess costs seconds)."""
    tree = ast.parse(Path(widgets.__file__).read_text())
    top_level = [alias.name for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))
                 for alias in node.names] + [node.module for node in tree.body if isinstance(node, ast.ImportFrom)]
    assert not any(name and name.split(".")[0] in ("ipywidgets", "IPython") for name in top_level)
