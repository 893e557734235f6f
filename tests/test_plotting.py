"""Unit tests of vaecourse.plotting: every helper returns a Figure, rejects wrong shapes, and the
interpolation paths are right."""

import matplotlib

matplotlib.use("Agg")  # no display in CI; set before pyplot draws anything

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from vaecourse import plotting  # noqa: E402
from vaecourse.train import History  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def images(n: int = 6, channels: int = 1, size: int = 8) -> torch.Tensor:
    return torch.rand(n, channels, size, size, generator=torch.Generator().manual_seed(0))


def image_data(fig: Figure):
    return [ax.images[0].get_array() for ax in fig.axes if ax.images]


# --------------------------------------------------------------------------------------- image_grid
@pytest.mark.parametrize("batch", [images(), images(channels=3), images()[:, 0], images().numpy()])
def test_image_grid_returns_a_figure(batch):
    fig = plotting.image_grid(batch, nrow=4, title="digits")
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 1 and fig.axes[0].get_title() == "digits"
    # 6 images of 8 px, 4 per row with 2 px padding: a 2 x 4 grid of 10 px cells plus the outer border
    grid = image_data(fig)[0]
    assert grid.shape[:2] == (2 * 10 + 2, 4 * 10 + 2)


def test_image_grid_draws_into_given_axes():
    fig, ax = plt.subplots()
    assert plotting.image_grid(images(), ax=ax) is fig
    assert len(ax.images) == 1


def test_image_grid_clamps_values():
    fig = plotting.image_grid(torch.full((2, 1, 4, 4), 3.0), nrow=2)
    grid = image_data(fig)[0]
    assert grid.max() <= 1.0


@pytest.mark.parametrize("shape", [(6, 64), (64,), (2, 3, 1, 8, 8)])
def test_image_grid_rejects_wrong_shapes(shape):
    with pytest.raises(ValueError, match=r"images must have shape \(N, C, H, W\) or \(N, H, W\), got "
                                         + r"\(" + ", ".join(map(str, shape)) + r",?\)"):
        plotting.image_grid(torch.zeros(shape))


# ----------------------------------------------------------------------------------- latent_scatter
def test_latent_scatter_with_and_without_labels():
    z = torch.randn(100, 2, generator=torch.Generator().manual_seed(0))
    labels = torch.arange(100) % 10
    fig = plotting.latent_scatter(z, labels, title="codes")
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert ax.get_title() == "codes" and ax.get_legend() is not None
    assert ax.collections[0].get_offsets().shape == (100, 2)
    plain = plotting.latent_scatter(z.numpy())
    assert plain.axes[0].get_legend() is None


def test_latent_scatter_caps_the_number_of_points():
    fig = plotting.latent_scatter(torch.zeros(50, 2), torch.zeros(50), max_points=20)
    assert fig.axes[0].collections[0].get_offsets().shape == (20, 2)


@pytest.mark.parametrize("shape", [(10, 3), (10,), (10, 2, 1)])
def test_latent_scatter_rejects_wrong_shapes(shape):
    with pytest.raises(ValueError, match=r"latent_scatter plots 2-D codes \(N, 2\); got \("):
        plotting.latent_scatter(torch.zeros(shape))


# -------------------------------------------------------------------------------------------- strip
def test_strip_rows_by_columns():
    rows = torch.rand(3, 5, 1, 8, 8)
    fig = plotting.strip(rows, row_labels=["a", "b", "c"], column_labels=list("vwxyz"), title="t")
    assert isinstance(fig, Figure) and len(fig.axes) == 15
    assert fig.axes[0].get_ylabel() == "a" and fig.axes[0].get_title() == "v"
    # axes are laid out row by row: the image in axes r * 5 + k is rows[r, k]
    assert torch.allclose(torch.as_tensor(image_data(fig)[7]), rows[1, 2, 0])


def test_strip_single_row():
    fig = plotting.strip(torch.rand(4, 3, 8, 8))
    assert len(fig.axes) == 4


@pytest.mark.parametrize("shape", [(4, 8, 8), (2, 2, 2, 1, 8, 8)])
def test_strip_rejects_wrong_shapes(shape):
    with pytest.raises(ValueError, match=r"rows must have shape \(R, K, C, H, W\) or \(K, C, H, W\), got"):
        plotting.strip(torch.zeros(shape))


# ---------------------------------------------------------------------------------- traversal_strip
def test_traversal_strip_rows_are_dimensions_and_columns_values():
    seen = []

    def decode(z):
        seen.append(z.clone())
        return torch.sigmoid(z[:, :1, None, None].expand(-1, 1, 4, 4))

    z_base = torch.tensor([0.5, -1.0, 2.0])
    values = [-2.0, 0.0, 1.0, 3.0]
    fig = plotting.traversal_strip(decode, z_base, dims=[0, 2], values=values)
    assert isinstance(fig, Figure) and len(fig.axes) == 2 * 4
    codes = seen[0].view(2, 4, 3)
    for r, d in enumerate([0, 2]):
        for k, v in enumerate(values):
            expected = z_base.clone()
            expected[d] = v
            assert torch.equal(codes[r, k], expected)
    assert [ax.get_ylabel() for ax in fig.axes[::4]] == ["z0", "z2"]


def test_traversal_strip_defaults():
    fig = plotting.traversal_strip(lambda z: torch.zeros(len(z), 1, 4, 4), torch.zeros(3))
    assert len(fig.axes) == 3 * 7  # every dimension, -3..3 in 7 steps


def test_traversal_strip_with_a_vae_decoder():
    from vaecourse.models import VAE

    model = VAE(latent_dim=2, hidden=(8,))
    fig = plotting.traversal_strip(lambda z: model.decode(z).mean, torch.zeros(2), values=[-1, 0, 1])
    assert len(fig.axes) == 6


# ------------------------------------------------------------------------------------- interpolation
def test_interpolate_linear():
    a, b = torch.tensor([[0.0, 1.0], [2.0, 2.0]]), torch.tensor([[4.0, -1.0], [2.0, 0.0]])
    path = plotting.interpolate(a, b, 5, "linear")
    assert path.shape == (2, 5, 2)
    assert torch.equal(path[:, 0], a) and torch.equal(path[:, -1], b)
    assert torch.allclose(path[:, 2], (a + b) / 2)
    steps = path[:, 1:] - path[:, :-1]
    assert torch.allclose(steps, steps[:, :1].expand_as(steps))  # evenly spaced on a straight line


def test_interpolate_one_dimensional_inputs():
    path = plotting.interpolate(torch.zeros(3), torch.ones(3), 4)
    assert path.shape == (1, 4, 3)


def test_interpolate_spherical_keeps_the_norm():
    generator = torch.Generator().manual_seed(0)
    a, b = torch.randn(4, 16, generator=generator), torch.randn(4, 16, generator=generator)
    b = b / b.norm(dim=1, keepdim=True) * a.norm(dim=1, keepdim=True)  # equal norms, pair by pair
    path = plotting.interpolate(a, b, 9, "spherical")
    assert path.shape == (4, 9, 16)
    assert torch.allclose(path[:, 0], a, atol=1e-5) and torch.allclose(path[:, -1], b, atol=1e-5)
    norms = path.norm(dim=2)
    assert torch.allclose(norms, a.norm(dim=1, keepdim=True).expand_as(norms), rtol=1e-5, atol=1e-5)
    linear_mid = plotting.interpolate(a, b, 9, "linear")[:, 4].norm(dim=1)
    assert (linear_mid < norms[:, 4] - 1e-3).all()  # the straight line cuts inside the sphere


def test_interpolate_errors():
    with pytest.raises(ValueError, match=r"unknown interpolation method 'cubic'; use 'linear' or 'spherical'"):
        plotting.interpolate(torch.zeros(2), torch.ones(2), 3, "cubic")
    with pytest.raises(ValueError, match=r"same shape, got \(1, 2\) and \(1, 3\)"):
        plotting.interpolate(torch.zeros(2), torch.ones(3), 3)


@pytest.mark.parametrize("method", ["linear", "spherical"])
def test_interpolation_strip(method):
    decoded = []

    def decode(z):
        decoded.append(z)
        return torch.zeros(len(z), 1, 4, 4)

    fig = plotting.interpolation_strip(decode, torch.ones(2, 3), -torch.ones(2, 3) + 0.1, num_steps=6,
                                       method=method, title="path")
    assert isinstance(fig, Figure) and len(fig.axes) == 2 * 6
    assert decoded[0].shape == (12, 3)


# ---------------------------------------------------------------------------------------- loss_curves
def test_loss_curves():
    history = History(objective="neg_elbo")
    history.train["neg_elbo"] += [300.0, 200.0, 150.0]
    history.train["kl"] += [10.0, 12.0, 13.0]
    history.val["neg_elbo"] += [310.0, 210.0, 170.0]
    fig = plotting.loss_curves(history, title="training")
    assert isinstance(fig, Figure)
    lines = fig.axes[0].get_lines()
    assert [line.get_label() for line in lines] == ["neg_elbo (train)", "neg_elbo (validation)", "kl (train)"]
    assert list(lines[1].get_ydata()) == [310.0, 210.0, 170.0] and list(lines[0].get_xdata()) == [1, 2, 3]
    only_kl = plotting.loss_curves(history, terms=["kl"])
    assert len(only_kl.axes[0].get_lines()) == 1


def test_helpers_never_show(monkeypatch):
    monkeypatch.setattr(plt, "show", lambda *a, **k: (_ for _ in ()).throw(AssertionError("plt.show called")))
    plotting.image_grid(images())
    plotting.latent_scatter(torch.zeros(5, 2))
    plotting.strip(torch.rand(2, 2, 1, 4, 4))
