# ---
# jupyter:
#   jupytext:
#     notebook_metadata_filter: -jupytext.text_representation.jupytext_version,-kernelspec
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
# ---

# %% [markdown] nbgrader={"grade": false, "grade_id": "q1-header", "locked": true, "schema_version": 3, "solution": false, "task": false}
# # q1 · Autoencoders as generators: empty boxes, fitted densities and code noise
#
# A plain autoencoder (AE) compresses an image into a code and decodes it back, but it comes with no
# distribution to draw new codes from. This assignment builds the tools that lecture notebooks 01–03 use
# to study that gap: a measure of how much of the codes' bounding box is actually near data, two ways to
# sample new images (from a VAE's prior, and from a Gaussian mixture fitted to the codes after
# training), and the R-scaled noise layer of homework question 1(c). Then you answer the four parts of
# Question 1 in writing. The graded cells train nothing; each runs in about a second.
#
# | task | what you do | points | graded |
# | --- | --- | --- | --- |
# | 1 | `box_occupancy`: how much of the bounding box lies near a code | 3 | automatically |
# | 2 | `sample_prior_images`: decode draws from the VAE prior | 2 | automatically |
# | 3 | `sample_mixture_codes`: sample from a Gaussian mixture fitted to the codes | 2 | automatically |
# | 4 | `add_code_noise`: the values of the R-scaled noise | 2 | automatically |
# | 4 | `add_code_noise`: no gradient flows through R | 1 | automatically |
# | 5 | Q1(a): decoding uniform points of an AE's latent space (written answer) | 2 | by hand |
# | 6 | Q1(b): ways to generate with a VAE (written answer) | 3 | by hand |
# | 7 | Q1(c): does R-scaled code noise make an AE a generator? (written answer) | 3 | by hand |
# | 8 | Q1(d): the VAE vs the noisy AE (written answer) | 2 | by hand |
# | | **total** | **20** | |
#
# **Rules**
# - Write code only where the notebook says `# YOUR CODE HERE`, and delete the
#   `raise NotImplementedError()` line below it. Write prose where it says "YOUR ANSWER HERE".
# - Do not edit, delete or move the read-only cells and the test cells: the grader restores them from
#   its own copy before grading. The test cells you see hold the *visible* tests; more (hidden) tests
#   run when your notebook is graded.
# - **Time limit:** the grader stops any cell that runs longer than **120 seconds**, and that cell earns
#   no points.
# - **Before submitting: restart the kernel and run all cells** (Kernel → Restart Kernel and Run All
#   Cells) and check that no cell raises. The grader runs your notebook from top to bottom in a fresh
#   kernel, so a result that depends on cells run out of order will not reproduce.
# - The optional demo near the end trains three small models (a few seconds). The grader skips it.

# %% nbgrader={"grade": false, "grade_id": "q1-setup", "locked": true, "schema_version": 3, "solution": false, "task": false}
import os

import numpy as np
import torch
from sklearn.mixture import GaussianMixture

import vaecourse as vc

device = vc.setup_notebook(seed=0)


# %% [markdown] nbgrader={"grade": false, "grade_id": "q1-occupancy-task", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Task 1 · How much of the bounding box lies near the data? (3 points)
#
# Question 1(a) decodes points drawn uniformly from the latent space of an AE. The natural "latent
# space" to draw from is the **bounding box** of the training codes (per-dimension minimum to maximum).
# Whether such a point decodes to something digit-like depends on whether it lands near any code the
# decoder was trained on. Measure that:
#
# 1. the **spacing** of the codes is the median, over the codes, of each code's distance to its
#    nearest *other* code (leave out each code's zero distance to itself);
# 2. a point of the box is **near data** when its distance to the nearest code is **at most** the
#    spacing;
# 3. the **occupancy** is the fraction of the given points that are near data.
#
# Implement `box_occupancy(codes, points)`. The uniform box points are drawn by the caller and passed
# in (the try-it cell uses `vc.latent.sample_box`), so the function is deterministic. Distances are
# Euclidean (`torch.cdist` computes all pairs at once). Return a Python `float` in $[0, 1]$.
#
# Because both distances are measured in the same units, the occupancy does not change when codes and
# points are scaled or shifted together. Do not call `vc.latent.box_occupancy`: the hidden tests
# compare your result with it on the same points and switch it off while your function runs.

# %% nbgrader={"grade": false, "grade_id": "q1-occupancy-impl", "locked": false, "schema_version": 3, "solution": true, "task": false}
def box_occupancy(codes: torch.Tensor, points: torch.Tensor) -> float:
    """Fraction of ``points`` whose nearest code is at most the median nearest-neighbour spacing of the codes.

    Parameters
    ----------
    codes : torch.Tensor, shape (N, D), N >= 2
        The latent codes of a data set.
    points : torch.Tensor, shape (M, D)
        Points to test, usually drawn uniformly from the codes' bounding box.

    Returns
    -------
    float
        The fraction of the M points that are near data, in [0, 1].
    """
    ### BEGIN SOLUTION
    codes = torch.as_tensor(codes)
    points = torch.as_tensor(points, dtype=codes.dtype)
    between_codes = torch.cdist(codes, codes)
    between_codes.fill_diagonal_(float("inf"))  # a code is not its own neighbour
    spacing = between_codes.min(dim=1).values.median()
    nearest = torch.cdist(points, codes).min(dim=1).values
    return (nearest <= spacing).double().mean().item()
    ### END SOLUTION


# %%
# Try it (not graded): 501 codes from a standard normal cloud; how much of their box is near a code,
# as the dimension grows? The box grows with every dimension, the cloud does not fill it.
gen_try_occ = torch.Generator().manual_seed(1)
for dim_try in (1, 2, 4, 8, 16):
    codes_try = torch.randn(501, dim_try, generator=gen_try_occ)
    points_try = vc.latent.sample_box(*vc.latent.bounding_box(codes_try), 2000, generator=gen_try_occ)
    print(f"D = {dim_try:2d}: occupancy {box_occupancy(codes_try, points_try):.3f}")

# %% nbgrader={"grade": true, "grade_id": "q1-occupancy-tests", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
"""box_occupancy: the fraction of points within the median nearest-neighbour spacing of the codes."""
# 1-D: spacings 1, 1, 1, 1, 2 (median 1); the points' nearest codes are 0.5, 0.5, 1, 1.1 and 2 away.
codes_q1o = torch.tensor([[0.0], [1.0], [2.0], [3.0], [5.0]])
points_q1o = torch.tensor([[0.5], [2.5], [4.0], [6.1], [7.0]])
occ_q1o = box_occupancy(codes_q1o, points_q1o)
assert isinstance(occ_q1o, float), (
    f"the type of box_occupancy's result: expected a Python float, got {type(occ_q1o).__name__}. "
    "Hint: end with .item()")
assert abs(occ_q1o - 0.6) < 1e-9, (
    f"1-D case: expected 3 of 5 points near data (0.6), got {occ_q1o}. Hint: the spacing is 1, the median (not "
    "the mean, 1.2) of the nearest-neighbour distances 1, 1, 1, 1, 2; the point at 4.0 is exactly 1 from a "
    "code and counts ('at most'); the points at 6.1 and 7.0 are too far.")
# 2-D: a 3 x 3 grid with spacing 1; (0.5, 0.5) and (1, 1) are near, (3, 0) is exactly 1 away, (5, 5) is far.
grid_q1o = torch.cartesian_prod(torch.arange(3.0), torch.arange(3.0))
points_grid_q1o = torch.tensor([[0.5, 0.5], [1.0, 1.0], [3.0, 0.0], [5.0, 5.0]])
occ_grid_q1o = box_occupancy(grid_q1o, points_grid_q1o)
assert abs(occ_grid_q1o - 0.75) < 1e-9, (
    f"3 x 3 grid with spacing 1: expected 3 of 4 points near data (0.75), got {occ_grid_q1o}. Hint: if you got "
    "0.25 or 0, did you leave each code's zero distance to itself in the spacing?")
gen_q1o = torch.Generator().manual_seed(31)
codes_rand_q1o = torch.randn(9, 2, generator=gen_q1o)
points_rand_q1o = 3 * torch.rand(60, 2, generator=gen_q1o) - 1.5
occ_rand_q1o = box_occupancy(codes_rand_q1o, points_rand_q1o)
occ_scaled_q1o = box_occupancy(7 * codes_rand_q1o + 4, 7 * points_rand_q1o + 4)
assert abs(occ_scaled_q1o - occ_rand_q1o) <= 1 / 60 + 1e-9, (
    f"scaling and shifting codes and points together (7 x + 4): expected the occupancy to stay at {occ_rand_q1o} "
    f"(within 1 / 60), got {occ_scaled_q1o}. Hint: compare each point's distance with the spacing of the codes, "
    "not with a fixed number")
print("box_occupancy: visible tests passed")
### BEGIN HIDDEN TESTS
from unittest import mock

gen_q1oh = torch.Generator().manual_seed(4242)
# (1) 2-D: a dense cloud on a sparse background, where mean and median spacing differ a lot;
# (2) 6-D: three flat clusters.
dense_q1oh = torch.cat([torch.randn(251, 2, generator=gen_q1oh, dtype=torch.float64),
                        12 * torch.rand(50, 2, generator=gen_q1oh, dtype=torch.float64) - 6])
centres_q1oh = 6 * torch.randn(3, 6, generator=gen_q1oh, dtype=torch.float64)
flat_q1oh = (centres_q1oh[torch.arange(301) % 3]
             + torch.randn(301, 6, generator=gen_q1oh, dtype=torch.float64) * torch.tensor([1.0, 1, 1, 0.3, 0.3, 0.1]))
num_points_q1oh = 1500
cases_q1oh = {"2-D dense cloud on a sparse background": dense_q1oh, "6-D flat clusters": flat_q1oh}
points_q1oh = {case: vc.latent.sample_box(*vc.latent.bounding_box(codes), num_points_q1oh,
                                          generator=torch.Generator().manual_seed(9)).double()
               for case, codes in cases_q1oh.items()}
codes_before_q1oh = {case: codes.clone() for case, codes in cases_q1oh.items()}
no_reference_q1oh = AssertionError(
    "box_occupancy called vaecourse.latent.box_occupancy: expected your own computation, got a call to the "
    "package's reference. Hint: compute the codes' spacing and the points' nearest distances with torch.cdist")
occ_q1oh = {}
with mock.patch("vaecourse.latent.box_occupancy", side_effect=no_reference_q1oh):
    for case_q1oh, codes_q1oh in cases_q1oh.items():
        occ_q1oh[case_q1oh] = box_occupancy(codes_q1oh, points_q1oh[case_q1oh])
hint_q1oh = ("the fraction of points whose nearest code is at most the spacing, the median over the codes of each "
             "code's distance to its nearest other code (not the mean, not including the zero distance to itself)")
vc.grading.record("occupancy of the 1-D example", occ_q1o, atol=1e-9, hint=hint_q1oh)
vc.grading.record("occupancy of the 3 x 3 grid", occ_grid_q1o, atol=1e-9, hint=hint_q1oh)
# Counts must agree exactly (atol half a point): no point of these cases lies within 0.5 % of the spacing,
# so rounding (float32, torch.cdist's matrix-product path) cannot flip one.
vc.grading.record("occupancy of 60 points around 9 random codes", occ_rand_q1o, atol=0.5 / 60, hint=hint_q1oh)
vc.grading.record("occupancy of the same, codes and points scaled and shifted (7 x + 4)", occ_scaled_q1o,
                  atol=0.5 / 60, hint="distances and spacing scale together, so the occupancy must not change")
for case_q1oh, codes_q1oh in cases_q1oh.items():
    # as in the assertion below: at most 2 of the 1500 points may differ
    vc.grading.record(f"occupancy, {case_q1oh} ({num_points_q1oh} box points)", occ_q1oh[case_q1oh],
                      atol=2.5 / num_points_q1oh, hint=hint_q1oh)
    # a fingerprint of the codes, not all of them, to keep the stored notebook small
    vc.grading.record(f"codes after the call, {case_q1oh}: every 10th code and sums over all",
                      {"every 10th code": codes_q1oh[::10], "sum": codes_q1oh.sum(0),
                       "sum of squares": (codes_q1oh ** 2).sum(0),
                       "index-weighted sum": (torch.arange(len(codes_q1oh))[:, None] * codes_q1oh).sum(0)},
                      rtol=1e-12, atol=1e-9, hint="box_occupancy must not change the codes in place; work on a copy")

def reference_occupancy_q1oh(codes, points):
    """A float64 reference written out with broadcasting: (occupancy, spacings, nearest distances)."""
    between = ((codes[:, None, :] - codes[None, :, :]) ** 2).sum(-1).sqrt()
    between += torch.diag(torch.full((len(codes),), float("inf"), dtype=torch.float64))
    spacings = between.min(dim=1).values
    nearest = ((points[:, None, :] - codes[None, :, :]) ** 2).sum(-1).sqrt().min(dim=1).values
    return (nearest <= spacings.median()).double().mean().item(), spacings, nearest

for case_q1oh, codes_q1oh in cases_q1oh.items():
    vc.grading.assert_close(codes_q1oh, codes_before_q1oh[case_q1oh], rtol=0, atol=0,
                            what=f"the codes after the call ({case_q1oh})",
                            hint="box_occupancy changed the codes in place; work on a copy")
    occ_case_q1oh = occ_q1oh[case_q1oh]
    expected_pkg_q1oh = vc.latent.box_occupancy(codes_q1oh, num_samples=num_points_q1oh,
                                                generator=torch.Generator().manual_seed(9))
    expected_q1oh, spacings_q1oh, nearest_q1oh = reference_occupancy_q1oh(codes_q1oh, points_q1oh[case_q1oh])
    assert abs(expected_q1oh - expected_pkg_q1oh) <= 2 / num_points_q1oh, (  # the test's two references agree
        f"the test's two references for {case_q1oh}: expected them to agree within 2 / {num_points_q1oh}, got "
        f"{expected_q1oh:.4f} (broadcasting) and {expected_pkg_q1oh:.4f} (vaecourse.latent.box_occupancy). "
        "Hint: your answer cells must not change torch or vaecourse.latent")
    variants_q1oh = {
        "the mean instead of the median of the nearest-neighbour distances":
            (nearest_q1oh <= spacings_q1oh.mean()).double().mean().item(),
        "the median distance from the points to their nearest code instead of the codes' own spacing":
            (nearest_q1oh <= nearest_q1oh.median()).double().mean().item(),
        "a zero spacing (each code's distance to itself left in)": (nearest_q1oh <= 0).double().mean().item(),
    }
    mistakes_q1oh = "; ".join(f"{name} would give {value:.4f}" for name, value in variants_q1oh.items()
                              if abs(value - occ_case_q1oh) <= 2 / num_points_q1oh)
    assert abs(occ_case_q1oh - expected_q1oh) <= 2 / num_points_q1oh, (
        f"{case_q1oh} ({len(codes_q1oh)} codes, {num_points_q1oh} box points): expected occupancy "
        f"{expected_q1oh:.4f} (vaecourse.latent.box_occupancy on the same points: {expected_pkg_q1oh:.4f}), "
        f"got {occ_case_q1oh:.4f}. Hint: "
        + (f"your value matches a common mistake: {mistakes_q1oh}." if mistakes_q1oh else
           "check the spacing: the median over the codes of each code's distance to its nearest other code."))
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "q1-prior-task", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Task 2 · Sampling a VAE from its prior (2 points)
#
# A VAE is trained so that its codes stay close to the prior $p(z) = \mathcal N(0, I)$. The simplest way
# to generate with it: draw $z \sim \mathcal N(0, I)$ and decode. Implement
# `sample_prior_images(vae, num_samples, generator)`:
#
# - draw the codes with `torch.randn(num_samples, vae.latent_dim, generator=generator)` (on the CPU;
#   move them to the model's device before decoding), so the same generator seed gives the same images;
# - decode them with `vae.decode(z)`, which returns a distribution over images, and return its
#   **mean**, the probabilities of the pixels being on. Do not sample pixels from it: Bernoulli pixel
#   samples look like speckle noise;
# - return a CPU tensor of shape `(num_samples, 1, 28, 28)` with no autograd graph attached (work under
#   `torch.no_grad()`).
#
# Do not call `vae.sample`: it does the same with its own random stream, and the hidden tests switch it
# off while your function runs.

# %% nbgrader={"grade": false, "grade_id": "q1-prior-impl", "locked": false, "schema_version": 3, "solution": true, "task": false}
def sample_prior_images(vae: vc.models.VAE, num_samples: int, generator: torch.Generator) -> torch.Tensor:
    """Decode ``num_samples`` draws ``z ~ N(0, I)`` through the decoder mean.

    Parameters
    ----------
    vae : vc.models.VAE
        A VAE with attributes ``latent_dim`` and ``decode(z) -> distribution over images``.
    num_samples : int
        How many images to generate.
    generator : torch.Generator
        The CPU generator that draws the codes with ``torch.randn``.

    Returns
    -------
    torch.Tensor, shape (num_samples, 1, 28, 28)
        Decoder means in [0, 1], on the CPU, with no autograd graph.
    """
    ### BEGIN SOLUTION
    z = torch.randn(num_samples, vae.latent_dim, generator=generator)
    model_device = next(vae.parameters()).device
    with torch.no_grad():
        return vae.decode(z.to(model_device)).mean.cpu()
    ### END SOLUTION


# %%
# Try it (not graded): an untrained VAE decodes every code to a grey blur, but the shapes are right.
with torch.random.fork_rng():
    torch.manual_seed(1)
    vae_try = vc.models.VAE(latent_dim=4, hidden=(32,))
images_try = sample_prior_images(vae_try, 6, torch.Generator().manual_seed(1))
print(f"images: shape {tuple(images_try.shape)}, dtype {images_try.dtype}, "
      f"range [{images_try.min().item():.2f}, {images_try.max().item():.2f}]")

# %% nbgrader={"grade": true, "grade_id": "q1-prior-tests", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
"""sample_prior_images decodes torch.randn(num_samples, latent_dim, generator=...) through the decoder mean."""
with torch.random.fork_rng():
    torch.manual_seed(12)
    vae_q1p = vc.models.VAE(latent_dim=3, hidden=(16,))
images_q1p = sample_prior_images(vae_q1p, 5, torch.Generator().manual_seed(3))
assert isinstance(images_q1p, torch.Tensor), (
    f"the type of the result: expected a torch.Tensor, got {type(images_q1p).__name__}. "
    "Hint: return the decoder's .mean, a tensor")
vc.grading.assert_equal(tuple(images_q1p.shape), (5, 1, 28, 28), what="the shape of 5 images of shape (1, 28, 28)",
                        hint="return vae.decode(z).mean as it comes, (num_samples, 1, 28, 28): no flattening")
vc.grading.assert_equal(str(images_q1p.dtype), "torch.float32", what="the dtype of the images",
                        hint="return the decoder mean in the model's dtype, float32")
vc.grading.assert_equal(images_q1p.requires_grad, False, what="images.requires_grad",
                        hint="the images carry an autograd graph: decode under torch.no_grad()")
assert images_q1p.min() >= 0 and images_q1p.max() <= 1, (
    f"the pixel values: expected decoder means, pixel probabilities in [0, 1], got values in "
    f"[{images_q1p.min().item():.3f}, {images_q1p.max().item():.3f}]. Hint: return vae.decode(z).mean, not the logits")
assert not bool(((images_q1p == 0) | (images_q1p == 1)).all()), (
    "the pixel values: expected probabilities between 0 and 1, got only 0s and 1s. Hint: those are Bernoulli "
    "pixel samples; return the decoder's .mean")
images_same_seed_q1p = sample_prior_images(vae_q1p, 5, torch.Generator().manual_seed(3))
vc.grading.assert_close(images_same_seed_q1p, images_q1p, rtol=0, atol=0,
                        what="the images of a second call with the same generator seed",
                        hint="the same generator seed must give the same images: draw z with generator=generator")
images_other_seed_q1p = sample_prior_images(vae_q1p, 5, torch.Generator().manual_seed(4))
assert not torch.equal(images_other_seed_q1p, images_q1p), (
    "the images for generator seeds 3 and 4: expected different images, got the same. "
    "Hint: are the codes drawn at random, with the generator passed in?")
print("sample_prior_images: visible tests passed")
### BEGIN HIDDEN TESTS
from unittest import mock

with torch.random.fork_rng():
    torch.manual_seed(77)
    vae_q1ph = vc.models.VAE(latent_dim=7, hidden=(24,))
no_reference_q1ph = AssertionError(
    "sample_prior_images called vae.sample: expected your own draw and decode, got a call to vae.sample. "
    "Hint: draw z = torch.randn(num_samples, vae.latent_dim, generator=generator) and return vae.decode(z).mean")
with mock.patch.object(vc.models.VAE, "sample", side_effect=no_reference_q1ph):
    torch.manual_seed(0)
    images_q1ph = sample_prior_images(vae_q1ph, 64, torch.Generator().manual_seed(21))
    torch.manual_seed(1)  # the global stream must not matter
    images_again_q1ph = sample_prior_images(vae_q1ph, 64, torch.Generator().manual_seed(21))
hint_q1ph = ("vae.decode(z).mean with z = torch.randn(num_samples, vae.latent_dim, generator=generator): the standard "
             "normal prior (not torch.rand's uniform draws), drawn with the generator passed in before anything else")
# Whole images would make records of 50,000 numbers: record every 4th pixel of a few images, all pixel sums.
# float32 decoder, possibly another machine's matrix products: rtol 1e-5, atol 1e-5.
vc.grading.record("the 5 visible images (seed 3), every 4th pixel", images_q1p[:, :, ::4, ::4], rtol=1e-5, atol=1e-5,
                  hint=hint_q1ph)
vc.grading.record("pixel sums of the 5 visible images (seed 3)", images_q1p.sum(dim=(1, 2, 3)), rtol=1e-5, atol=1e-5,
                  hint=hint_q1ph)
vc.grading.record("pixel sums of the 5 visible images (seed 4)", images_other_seed_q1p.sum(dim=(1, 2, 3)),
                  rtol=1e-5, atol=1e-5, hint=hint_q1ph)
vc.grading.record("requires_grad of the visible images", images_q1p.requires_grad,
                  hint="decode under torch.no_grad()")
vc.grading.record("the first 8 of 64 hidden images (latent_dim 7), every 4th pixel", images_q1ph[:8, :, ::4, ::4],
                  rtol=1e-5, atol=1e-5, hint=hint_q1ph)
vc.grading.record("pixel sums of the 64 hidden images", images_q1ph.sum(dim=(1, 2, 3)), rtol=1e-5, atol=1e-5,
                  hint=hint_q1ph)
vc.grading.record("pixel sums of the 64 hidden images, drawn again after another global seed",
                  images_again_q1ph.sum(dim=(1, 2, 3)), rtol=1e-5, atol=1e-5,
                  hint="draw z with torch.randn(..., generator=generator), never from torch's global random stream")
z_q1ph = torch.randn(64, 7, generator=torch.Generator().manual_seed(21))
with torch.no_grad():
    p_x_q1ph = vae_q1ph.decode(z_q1ph)
    expected_q1ph = p_x_q1ph.mean
vc.grading.assert_equal(tuple(images_q1ph.shape), (64, 1, 28, 28), what="the shape of 64 hidden images",
                        hint="return vae.decode(z).mean as it comes, (num_samples, 1, 28, 28)")
vc.grading.assert_close(images_again_q1ph, images_q1ph, rtol=0, atol=0,
                        what="the images drawn again with the same generator seed after another global seed",
                        hint="the images depend on torch's global random stream: draw z with "
                             "torch.randn(..., generator=generator)")
vc.grading.assert_close(images_q1ph, expected_q1ph, rtol=1e-6, atol=1e-6,
                        what="64 images from a hidden VAE (latent_dim 7)", hint=hint_q1ph)
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "q1-mixture-task", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Task 3 · Sampling from a density fitted to the codes (2 points)
#
# A plain AE has no prior, but one can be fitted **after training**: encode the training set, fit a
# density to the codes, sample codes from it and decode them ("ex-post density estimation", Ghosh et
# al. 2020). Implement `sample_mixture_codes(codes, num_components, num_samples, seed)` with
# scikit-learn's `GaussianMixture` (imported in the set-up cell):
#
# - fit `GaussianMixture(n_components=num_components, covariance_type="full", random_state=seed)` to
#   the codes, converted to a float64 NumPy array (`codes.double().numpy()`);
# - draw `num_samples` codes with its `.sample(num_samples)` method, which returns `(draws, components)`;
# - scikit-learn returns the draws **grouped by component** (all of component 0 first, ...). Shuffle
#   them with `np.random.default_rng(seed).permutation(num_samples)` so that every slice of the result
#   is a fair sample;
# - return a float32 torch tensor of shape `(num_samples, D)`. The same seed must give the same codes.
#
# Do not call `vc.latent.fit_mixture`, `vc.latent.fit_gaussian` or `vc.latent.sample_fitted`: the hidden
# tests switch them off while your function runs.

# %% nbgrader={"grade": false, "grade_id": "q1-mixture-impl", "locked": false, "schema_version": 3, "solution": true, "task": false}
def sample_mixture_codes(codes: torch.Tensor, num_components: int, num_samples: int, seed: int) -> torch.Tensor:
    """Fit a full-covariance Gaussian mixture to ``codes`` and draw ``num_samples`` codes from it.

    Parameters
    ----------
    codes : torch.Tensor, shape (N, D)
        Latent codes of a data set (CPU tensor).
    num_components : int
        Number of mixture components.
    num_samples : int
        How many codes to draw.
    seed : int
        Seeds both the mixture fit (``random_state``) and the shuffle of the draws.

    Returns
    -------
    torch.Tensor, shape (num_samples, D), float32
        Codes drawn from the fitted mixture, in shuffled order.
    """
    ### BEGIN SOLUTION
    data = codes.detach().cpu().double().numpy()
    mixture = GaussianMixture(n_components=num_components, covariance_type="full", random_state=seed).fit(data)
    draws, _ = mixture.sample(num_samples)
    order = np.random.default_rng(seed).permutation(num_samples)
    return torch.from_numpy(draws[order]).float()
    ### END SOLUTION


# %%
# Try it (not graded): two clusters of codes in 2-D; the draws should split between them about evenly.
gen_try_mix = torch.Generator().manual_seed(2)
codes_try_mix = torch.cat([torch.randn(200, 2, generator=gen_try_mix) - 5,
                           torch.randn(200, 2, generator=gen_try_mix) + 5])
draws_try_mix = sample_mixture_codes(codes_try_mix, 2, 1000, seed=0)
print(f"draws: shape {tuple(draws_try_mix.shape)}, dtype {draws_try_mix.dtype}; "
      f"fraction in the right-hand cluster: {(draws_try_mix[:, 0] > 0).float().mean().item():.2f}")

# %% nbgrader={"grade": true, "grade_id": "q1-mixture-tests", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
"""sample_mixture_codes fits a Gaussian mixture to the codes and returns shuffled float32 draws from it."""
gen_q1m = torch.Generator().manual_seed(5)
codes_q1m = torch.cat([torch.randn(150, 2, generator=gen_q1m) + torch.tensor([8.0, 0.0]),
                       torch.randn(150, 2, generator=gen_q1m) - torch.tensor([8.0, 0.0])])
draws_q1m = sample_mixture_codes(codes_q1m, 2, 400, seed=0)
assert isinstance(draws_q1m, torch.Tensor), (
    f"the type of the result: expected a torch.Tensor, got {type(draws_q1m).__name__}. "
    "Hint: convert the NumPy draws with torch.from_numpy(...)")
vc.grading.assert_equal(tuple(draws_q1m.shape), (400, 2), what="the shape of 400 draws of 2-D codes",
                        hint="return (num_samples, D): the draws of .sample(num_samples), not the (draws, components) "
                             "pair")
vc.grading.assert_equal(str(draws_q1m.dtype), "torch.float32", what="the dtype of the draws", hint="end with .float()")
draws_same_seed_q1m = sample_mixture_codes(codes_q1m, 2, 400, seed=0)
vc.grading.assert_close(draws_same_seed_q1m, draws_q1m, rtol=0, atol=0,
                        what="the draws of a second call with the same seed",
                        hint="the same seed must give the same draws: pass random_state=seed, shuffle with that seed")
draws_other_seed_q1m = sample_mixture_codes(codes_q1m, 2, 400, seed=1)
assert not torch.equal(draws_other_seed_q1m, draws_q1m), (
    "the draws for seeds 0 and 1: expected different draws, got the same. "
    "Hint: use the seed for the fit and the shuffle")
print("sample_mixture_codes: visible tests passed")
### BEGIN HIDDEN TESTS
from unittest import mock

no_reference_q1mh = AssertionError(
    "sample_mixture_codes called a vaecourse.latent helper: expected your own fit, got a call to "
    "fit_mixture, fit_gaussian or sample_fitted. Hint: fit sklearn's GaussianMixture yourself")
patches_q1mh = [mock.patch(f"vaecourse.latent.{name}", side_effect=no_reference_q1mh)
                for name in ("fit_mixture", "fit_gaussian", "sample_fitted")]
patches_q1mh += [mock.patch(f"__main__.{name}", side_effect=no_reference_q1mh, create=True)
                 for name in ("fit_mixture", "fit_gaussian", "sample_fitted")]
gen_q1mh = torch.Generator().manual_seed(606)
centres_q1mh = torch.tensor([[20.0, 0.0, 0.0], [0.0, 20.0, 0.0], [0.0, 0.0, 20.0]])
labels_q1mh = torch.tensor([0] * 250 + [1] * 150 + [2] * 100)
codes_q1mh = centres_q1mh[labels_q1mh] + torch.randn(500, 3, generator=gen_q1mh)
cov_q1mh = torch.tensor([[1.0, 0.8], [0.8, 1.0]])
corr_codes_q1mh = torch.randn(3000, 2, generator=gen_q1mh) @ torch.linalg.cholesky(cov_q1mh).T
for patch_q1mh in patches_q1mh:
    patch_q1mh.start()
try:
    draws_q1mh = sample_mixture_codes(codes_q1mh, 3, 4000, seed=3)
    draws_corr_q1mh = sample_mixture_codes(corr_codes_q1mh, 1, 20000, seed=0)
finally:
    for patch_q1mh in patches_q1mh:
        patch_q1mh.stop()
hint_q1mh = ("GaussianMixture(n_components=num_components, covariance_type='full', random_state=seed) fitted to "
             "codes.double().numpy(), .sample(num_samples), the draws shuffled with "
             "np.random.default_rng(seed).permutation(num_samples), returned as float32")
# The draws are deterministic given the seed. A float32 fit moves them by < 1e-5; a wrong covariance type,
# component count, seed or shuffle changes them completely. Records of the first rows and of moments keep the
# stored notebook small.
vc.grading.record("the first 100 of 400 draws from the visible two clusters (seed 0)", draws_q1m[:100],
                  rtol=1e-5, atol=1e-4, hint=hint_q1mh)
vc.grading.record("mean and standard deviation per coordinate of the 400 draws (seed 0)",
                  torch.stack([draws_q1m.double().mean(0), draws_q1m.double().std(0)]), rtol=1e-5, atol=1e-4,
                  hint=hint_q1mh)
vc.grading.record("the first 50 draws from the visible two clusters (seed 1)", draws_other_seed_q1m[:50],
                  rtol=1e-5, atol=1e-4, hint=hint_q1mh)
vc.grading.record("the first 100 of 4000 draws from three clusters (seed 3)", draws_q1mh[:100], rtol=1e-5, atol=1e-4,
                  hint=hint_q1mh)
vc.grading.record("mean and standard deviation per coordinate of the 4000 draws",
                  torch.stack([draws_q1mh.double().mean(0), draws_q1mh.double().std(0)]), rtol=1e-5, atol=1e-4,
                  hint=hint_q1mh)
vc.grading.record("the first 100 of 20000 draws from one correlated Gaussian (seed 0)", draws_corr_q1mh[:100],
                  rtol=1e-5, atol=1e-4, hint=hint_q1mh)
vc.grading.record("the correlation of the 20000 draws", torch.corrcoef(draws_corr_q1mh.T.double())[0, 1].item(),
                  atol=1e-4, hint="use covariance_type='full': a diagonal covariance gives uncorrelated draws")
vc.grading.assert_equal(tuple(draws_q1mh.shape), (4000, 3), what="the shape of 4000 draws of 3-D codes",
                        hint="return (num_samples, D)")
nearest_input_q1mh = torch.cdist(draws_q1mh.double(), codes_q1mh.double()).min(dim=1).values
exact_copies_q1mh = (nearest_input_q1mh < 1e-9).float().mean().item()
assert exact_copies_q1mh < 0.01, (
    f"the fraction of draws that copy an input code: expected below 1 %, got {exact_copies_q1mh:.0%}. "
    "Hint: draw new codes from the fitted mixture, do not resample the input codes")
nearest_centre_q1mh = torch.cdist(draws_q1mh, centres_q1mh).argmin(dim=1)
for k_q1mh, weight_q1mh in enumerate((0.5, 0.3, 0.2)):
    fraction_q1mh = (nearest_centre_q1mh == k_q1mh).float().mean().item()
    stderr_q1mh = (weight_q1mh * (1 - weight_q1mh) / 4000) ** 0.5
    assert abs(fraction_q1mh - weight_q1mh) < 5 * stderr_q1mh, (
        f"three clusters holding 50 %, 30 % and 20 % of the codes: expected {weight_q1mh} of the draws in cluster "
        f"{k_q1mh} (within 5 standard errors), got {fraction_q1mh:.3f}. Hint: fit n_components=num_components.")
first_q1mh = nearest_centre_q1mh[:200].bincount(minlength=3)
assert int((first_q1mh > 0).sum()) == 3, (
    f"the clusters of the first 200 draws: expected all three, got the counts {first_q1mh.tolist()}. Hint: "
    "scikit-learn groups the draws by component; shuffle them with "
    "np.random.default_rng(seed).permutation(num_samples)")
corr_q1mh = torch.corrcoef(draws_corr_q1mh.T.double())[0, 1].item()
assert abs(corr_q1mh - 0.8) < 0.05, (
    f"one full-covariance Gaussian fitted to codes with correlation 0.8: expected draws with correlation near 0.8, "
    f"got {corr_q1mh:.3f}. Hint: use covariance_type='full'")
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "q1-noise-task", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Task 4 · The R-scaled noise layer of question 1(c) (3 points)
#
# Question 1(c) trains an AE whose decoder sees the code plus Gaussian noise of variance
# $0.05\,R^2$, where $R$ is the root-mean-square distance of the codes from their centre. In a
# mini-batch of codes $z_1, \dots, z_B \in \mathbb R^D$ with mean $\bar z$:
#
# $$
# R = \sqrt{\frac1B \sum_{i=1}^{B} \lVert z_i - \bar z \rVert^2}, \qquad
# \tilde z_i = z_i + \sqrt{\text{noise\_factor}}\; R\, \varepsilon_i, \qquad \varepsilon_i \sim \mathcal N(0, I_D).
# $$
#
# $R$ is computed from the batch itself, so the noise follows the scale of the codes: the encoder cannot
# drown the noise by spreading its codes further apart. $R$ is a *scale* for the noise, not something to
# optimise, so it is **detached**: no gradient flows through $R$, and $\partial \tilde z_i / \partial z_i$
# is the identity.
#
# Implement `add_code_noise(z, noise_factor, eps)`. The noise `eps` (same shape as `z`) is drawn by the
# caller. Note the squared norm sums over the $D$ coordinates and the mean runs over the $B$ codes.
# Compute $R$ yourself: the hidden tests switch off `vc.models.code_rms_radius`.
#
# Points: 2 for the values (first test cell), 1 for the gradient (second test cell).

# %% nbgrader={"grade": false, "grade_id": "q1-noise-impl", "locked": false, "schema_version": 3, "solution": true, "task": false}
def add_code_noise(z: torch.Tensor, noise_factor: float, eps: torch.Tensor) -> torch.Tensor:
    """Return ``z + sqrt(noise_factor) * R * eps`` with R the detached RMS distance of the codes from their mean.

    Parameters
    ----------
    z : torch.Tensor, shape (B, D)
        A mini-batch of codes.
    noise_factor : float
        The noise variance in units of R^2 (0.05 in question 1(c)); 0 means no noise.
    eps : torch.Tensor, shape (B, D)
        Standard normal noise, drawn by the caller.

    Returns
    -------
    torch.Tensor, shape (B, D)
        The noisy codes, differentiable with respect to ``z`` (not through R).
    """
    ### BEGIN SOLUTION
    centred = z - z.mean(dim=0, keepdim=True)
    radius = centred.pow(2).sum(dim=-1).mean().sqrt().detach()
    return z + noise_factor ** 0.5 * radius * eps
    ### END SOLUTION


# %%
# Try it (not graded): codes at two very different scales get noise in proportion to their spread.
gen_try_noise = torch.Generator().manual_seed(3)
for scale_try in (0.1, 100.0):
    z_try = scale_try * torch.randn(1000, 8, generator=gen_try_noise)
    eps_try = torch.randn(1000, 8, generator=gen_try_noise)
    noisy_try = add_code_noise(z_try, 0.05, eps_try)
    radius_try = (z_try - z_try.mean(0)).pow(2).sum(1).mean().sqrt()
    print(f"code scale {scale_try:6.1f}: shape {tuple(noisy_try.shape)}, "
          f"noise std / R = {((noisy_try - z_try).std() / radius_try).item():.3f} (sqrt(0.05) = 0.224)")

# %% nbgrader={"grade": true, "grade_id": "q1-noise-tests", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
"""add_code_noise returns z + sqrt(noise_factor) * R * eps, R the RMS distance of the batch's codes from their mean."""
# Four codes at distance 3 from their centre (5, 5): R = 3, so with noise_factor 0.25 the noise is 1.5 * eps.
z_q1n = torch.tensor([[8.0, 5.0], [2.0, 5.0], [5.0, 8.0], [5.0, 2.0]])
eps_q1n = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 2.0], [0.5, -0.5]])
noisy_q1n = add_code_noise(z_q1n, 0.25, eps_q1n)
assert isinstance(noisy_q1n, torch.Tensor), (
    f"the type of the result: expected a torch.Tensor, got {type(noisy_q1n).__name__}. "
    "Hint: build the noisy codes with torch operations")
vc.grading.assert_equal(tuple(noisy_q1n.shape), (4, 2), what="the shape of the noisy codes for z of shape (4, 2)",
                        hint="the result has the shape of z: add the noise elementwise")
vc.grading.assert_equal(str(noisy_q1n.dtype), "torch.float32", what="the dtype of the noisy codes for float32 inputs",
                        hint="float32 in should give float32 out: stay in the dtype of z")
unchanged_q1n = add_code_noise(z_q1n, 0.0, eps_q1n)
vc.grading.assert_close(unchanged_q1n, z_q1n, rtol=1.3e-6, atol=1e-5, what="the codes with noise_factor = 0",
                        hint="with noise_factor = 0 the codes must come back unchanged")
vc.grading.assert_close(noisy_q1n, z_q1n + 1.5 * eps_q1n, rtol=1.3e-6, atol=1e-5,
                        what="four codes at distance 3 from their centre (5, 5), noise_factor 0.25",
                        hint="R = 3, so the noise is sqrt(0.25) * 3 * eps = 1.5 * eps. Did you subtract the mean code "
                             "before measuring distances, and take the square root of noise_factor?")
print("add_code_noise: visible tests passed")
### BEGIN HIDDEN TESTS
from unittest import mock

gen_q1nh = torch.Generator().manual_seed(808)
z_q1nh = 4 * torch.randn(16, 5, generator=gen_q1nh, dtype=torch.float64) + 10
eps_q1nh = torch.randn(16, 5, generator=gen_q1nh, dtype=torch.float64)
inputs_before_q1nh = (z_q1nh.clone(), eps_q1nh.clone())
no_reference_q1nh = AssertionError(
    "add_code_noise called vaecourse.models.code_rms_radius: expected your own R, got a call to the package's. "
    "Hint: R = sqrt(mean over codes of the squared distance to the mean code)")
with mock.patch("vaecourse.models.code_rms_radius", side_effect=no_reference_q1nh), \
        mock.patch("__main__.code_rms_radius", side_effect=no_reference_q1nh, create=True):
    noisy_q1nh = add_code_noise(z_q1nh, 0.05, eps_q1nh)
hint_q1nh = ("z + sqrt(noise_factor) * R * eps with one R per batch, R = sqrt(mean over the codes of the squared "
             "distance (summed over the coordinates) to the mean code)")
vc.grading.record("noisy codes of the visible batch (noise_factor 0.25)", noisy_q1n, rtol=1e-6, atol=1e-6,
                  hint=hint_q1nh)
vc.grading.record("codes of the visible batch with noise_factor 0", unchanged_q1n, rtol=1e-6, atol=1e-6,
                  hint="with noise_factor = 0 the codes must come back unchanged")
vc.grading.record("noisy codes of a hidden float64 batch (16 x 5, noise_factor 0.05)", noisy_q1nh, rtol=1e-12,
                  atol=1e-12, hint=hint_q1nh)
vc.grading.record("z and eps after the call", [z_q1nh, eps_q1nh], rtol=1e-12,
                  hint="add_code_noise must not change z or eps in place; build a new tensor")
for name_q1nh, before_q1nh, after_q1nh in zip(("z", "eps"), inputs_before_q1nh, (z_q1nh, eps_q1nh)):
    vc.grading.assert_close(after_q1nh, before_q1nh, rtol=0, atol=0, what=f"{name_q1nh} after the call",
                            hint="add_code_noise changed its input in place; build a new tensor instead")
vc.grading.assert_equal(str(noisy_q1nh.dtype), "torch.float64", what="the dtype of the noisy codes for float64 inputs",
                        hint="float64 in should give float64 out: stay in the dtype of z")
squared_q1nh = sum(float(((z_q1nh[i] - z_q1nh.mean(0)) ** 2).sum()) for i in range(16)) / 16
expected_q1nh = z_q1nh + 0.05 ** 0.5 * squared_q1nh ** 0.5 * eps_q1nh
variants_q1nh = {
    "R measured from the origin instead of the mean code": (z_q1nh ** 2).sum(1).mean().sqrt(),
    "the mean over coordinates instead of the sum (R divided by sqrt(D))": (squared_q1nh / 5) ** 0.5,
    "R^2 instead of R": squared_q1nh,
    "one R per code instead of one per batch": (z_q1nh - z_q1nh.mean(0)).pow(2).sum(1, keepdim=True).sqrt(),
}
names_q1nh = [name for name, radius in variants_q1nh.items()
              if torch.allclose(noisy_q1nh, z_q1nh + 0.05 ** 0.5 * radius * eps_q1nh)]
if torch.allclose(noisy_q1nh, z_q1nh + 0.05 * squared_q1nh ** 0.5 * eps_q1nh):
    names_q1nh.append("noise_factor instead of sqrt(noise_factor)")
vc.grading.assert_close(
    noisy_q1nh, expected_q1nh, rtol=1e-12, atol=1e-12,
    what="16 codes in 5-D (float64), noise_factor 0.05",
    hint="z + sqrt(0.05) * R * eps with R = sqrt(mean over codes of the squared distance to the mean code)."
         + (f" Your result matches: {', '.join(names_q1nh)}." if names_q1nh else ""))
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "q1-noise-grad-tests", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
"""No gradient flows through R: the gradient of sum(w * add_code_noise(z, ...)) with respect to z is w."""
gen_q1g = torch.Generator().manual_seed(13)
z_q1g = torch.randn(6, 3, generator=gen_q1g, dtype=torch.float64).requires_grad_()
eps_q1g = torch.randn(6, 3, generator=gen_q1g, dtype=torch.float64)
weights_q1g = torch.randn(6, 3, generator=gen_q1g, dtype=torch.float64)
noisy_q1g = add_code_noise(z_q1g, 0.5, eps_q1g)
vc.grading.assert_equal(noisy_q1g.requires_grad, True, what="noisy.requires_grad",
                        hint="the noisy codes are cut off from z in the autograd graph: detach R only, never z itself "
                             "(avoid z.detach(), .item() on z, numpy and torch.no_grad())")
(weights_q1g * noisy_q1g).sum().backward()
vc.grading.assert_equal(z_q1g.grad is not None, True, what="a gradient reached z",
                        hint="compute the noisy codes from z with torch operations")
print("add_code_noise gradients: visible tests passed")
### BEGIN HIDDEN TESTS
hint_q1gh = ("the noise term is a constant for autograd because R is detached, so the gradient is exactly w. "
             "An extra term means a gradient flows through R: compute R from the codes, then call .detach() on it")
vc.grading.record("d sum(w * noisy) / dz (6 x 3, noise_factor 0.5)", z_q1g.grad, rtol=1e-12, atol=1e-12,
                  hint=hint_q1gh)
vc.grading.assert_close(z_q1g.grad, weights_q1g, rtol=1e-12, atol=1e-12, what="d sum(w * noisy) / dz", hint=hint_q1gh)
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "q1-demo-task", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Optional demo · your functions on trained models (not graded)
#
# The next cell trains a small AE, an AE with R-scaled code noise and a VAE (16-D codes, a few epochs
# each, a few seconds in all) and uses your functions on them: the occupancy of each model's
# bounding box, images decoded from uniform box points, from a Gaussian mixture fitted to the codes,
# and from the VAE's prior, all scored with the course's yardstick (Fréchet distance on a digit
# classifier's features, lower is better; real held-out digits and uniform noise are the two reference
# rows; the last column is the mean pixel distance to the nearest training image, near 0 for copies). It is a quick look, one seed and short training, not a measurement: notebooks 01–03 measure
# the same comparisons properly, over several seeds. The grader skips this cell (it checks
# `NBGRADER_EXECUTION`).

# %%
if not os.environ.get("NBGRADER_EXECUTION"):
    x_train_demo, _ = vc.data.load_mnist(split="train")
    x_test_demo, _ = vc.data.load_mnist(split="test")
    models_demo = {"AE": vc.models.AE(latent_dim=16), "noisy AE": vc.models.NoisyAE(latent_dim=16),
                   "VAE": vc.models.VAE(latent_dim=16)}
    samples_demo, occupancy_demo = {}, {}
    for name_demo, model_demo in models_demo.items():
        vc.train.fit(model_demo, x_train_demo, epochs=10, seed=0, device=device, progress=False)
        codes_demo = vc.latent.encode_dataset(model_demo, x_train_demo)
        box_demo = vc.latent.bounding_box(codes_demo)
        points_demo = vc.latent.sample_box(*box_demo, 1000, generator=torch.Generator().manual_seed(0))
        occupancy_demo[name_demo] = box_occupancy(codes_demo, points_demo)
        samples_demo[f"{name_demo}: uniform box"] = vc.latent.decode_mean(model_demo, points_demo[:500])
        samples_demo[f"{name_demo}: mixture fit"] = vc.latent.decode_mean(
            model_demo, sample_mixture_codes(codes_demo, 10, 500, seed=0))
    samples_demo["VAE: prior"] = sample_prior_images(models_demo["VAE"], 500, torch.Generator().manual_seed(0))
    reference_demo, real_demo = vc.yardstick.split_held_out(x_test_demo, seed=0)
    rows_demo = vc.yardstick.sample_quality(samples_demo, reference=reference_demo, real=real_demo,
                                            train_images=x_train_demo, seed=0)
    print(vc.yardstick.format_quality_table(rows_demo))
    print("box occupancy (16-D codes): " + ", ".join(f"{k} {v:.3f}" for k, v in occupancy_demo.items()))
    fig = vc.plotting.strip(torch.stack([images[:10] for images in samples_demo.values()]),
                            row_labels=list(samples_demo), title="first 10 samples of each method")

# %% [markdown] nbgrader={"grade": false, "grade_id": "q1-qa-task", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Task 5 · Q1(a): decoding uniform points of an AE's latent space (2 points, graded by hand)
#
# We train a plain AE on a data set, draw a point uniformly at random in its latent space, and decode
# it. Will the output resemble the data set? Answer in 4–8 sentences. Say what region you would draw
# from, what the occupancy of Task 1 tells you and how it depends on the latent dimension, whether the
# problem is that AEs "fail to generalise beyond the training points", and what a plain AE would need in
# order to generate well.

# %% [markdown] nbgrader={"grade": true, "grade_id": "q1-qa-answer", "locked": false, "points": 2, "schema_version": 3, "solution": true, "task": false}
# **Model answer.** Not reliably, and less and less as the latent dimension grows. "Uniform in the
# latent space" has to mean uniform over some finite region, in practice the bounding box of the training
# codes, and the AE's training gives no distribution over codes at all: their location and scale are
# arbitrary, and they sit in class clusters and thin curved sheets. A uniform point lands near a
# training code only with the probability that the occupancy measures, and that fraction shrinks quickly
# with the dimension because the box's volume grows much faster than the volume near the data. The
# decoder was only trained near codes, so far from them it extrapolates: blends of digits, or shapes that
# are no digit at all. In 2-D a sizeable part of the box is near data, but a 2-D code is too small to
# reconstruct digits sharply, so how good box samples look depends on the dimension both ways (notebook
# 01 measures it). The cause is not a failure to generalise: an AE reconstructs held-out images almost as
# well as its training images. The cause is that we sample from a distribution unrelated to the codes.
# The principled fix is to fit a density to the codes after training (a Gaussian or a Gaussian mixture,
# Task 3) and sample from that; Ghosh et al. (2020) found such samples comparable to or better than a
# VAE's, and the lecture notebooks measure how much it helps at each dimension. Uniform noise in pixel
# space is worse still: it looks like static.
#
# *Marking (2 points):* 1 point for "no known distribution over codes, so uniform points mostly fall
# where the decoder saw no data, worse as the dimension grows"; 1 point for either "it is not a
# generalisation failure" or "fitting a density to the codes after training fixes it".

# %% [markdown] nbgrader={"grade": false, "grade_id": "q1-qb-task", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Task 6 · Q1(b): generating with a VAE (3 points, graded by hand)
#
# Describe at least three *methods* that use a trained VAE to produce data resembling the data set, and
# say for each whether it is unconditional or needs given inputs. Then explain how the VAE's training
# addresses the limitation of Q1(a), and what it does not guarantee. (A homework answer listed "a
# regularised latent space" as one of its methods: comment on that too.)

# %% [markdown] nbgrader={"grade": true, "grade_id": "q1-qb-answer", "locked": false, "points": 3, "schema_version": 3, "solution": true, "task": false}
# **Model answer.** Methods, each decoded through the decoder *mean* (Bernoulli pixel samples are
# speckled):
# 1. **Prior sampling** (unconditional): $z \sim \mathcal N(0, I)$, decode (Task 2).
# 2. **Posterior sampling** (needs an input $x$): $z \sim q(z \mid x)$ gives variations of a given image.
# 3. **Interpolation** (needs two inputs): decode points on the path between the codes of two images;
#    spherical interpolation keeps the path where prior samples live in high dimension, linear
#    interpolation cuts through the low-norm middle.
# 4. **Latent arithmetic** (needs labelled inputs): add a class-mean or attribute difference vector to
#    a code.
# 5. **Ex-post density estimation** (unconditional): fit a Gaussian mixture to the encoded means and
#    sample it (Task 3); it often beats prior sampling, and it works for a plain AE too.
# Conditional VAEs (decode with a label) and importance-resampled or MCMC-refined codes are further
# options. "A regularised latent space" is a property of training, not a method: it is what makes 1–3
# work. How the VAE helps: the KL term pulls every $q(z \mid x)$ toward $\mathcal N(0, I)$, which fixes
# the codes' location and scale to a known distribution, and training on sampled codes makes the decoder
# produce sensible images over whole regions, not only at isolated points. It does not guarantee good
# prior samples: the KL term is traded off against reconstruction, so the aggregate distribution of codes
# does not equal the prior (the average KL equals the information the codes carry about $x$ plus
# $\mathrm{KL}(q(z) \,\|\, p(z))$), leaving "holes" that decode to blurred or mixed digits, and VAE
# reconstructions and samples are blurrier than an AE's.
#
# *Marking (3 points):* 1 point for three correct methods (not counting "regularised latent space");
# 1 point for how the KL term gives a known distribution to sample from; 1 point for a correct
# limitation (prior holes or aggregate posterior ≠ prior, blur, or that a "regularised latent space" is
# not a method).

# %% [markdown] nbgrader={"grade": false, "grade_id": "q1-qc-task", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Task 7 · Q1(c): R-scaled noise on the code (3 points, graded by hand)
#
# During training we add $\mathcal N(0, 0.05\,R^2 I)$ noise to the encoder's output (Task 4). Will the
# trained AE be better at generating data when we decode randomly sampled latent points? Answer in 4–8
# sentences: what structure does the noise impose, why does scaling it by a detached $R$ matter, and
# what does it still not provide? How would you check your answer by measurement?

# %% [markdown] nbgrader={"grade": true, "grade_id": "q1-qc-answer", "locked": false, "points": 3, "schema_version": 3, "solution": true, "task": false}
# **Model answer.** Not reliably, and the reason is not that the noise does nothing. The noise does
# impose structure: to reconstruct well the decoder must give the same image for every point within a
# ball of radius about $\sqrt{0.05\,D}\,R$ around a code, and codes of different images must be kept
# apart relative to $R$, so the decoder becomes smooth on the scale of the noise. Scaling by $R$ matters:
# with noise of a fixed size the encoder can make it negligible by spreading its codes further apart,
# while $R$-scaled noise keeps the same size relative to the codes whatever their scale. $R$ is
# detached, so it acts as a scale, not something the encoder can shrink by gradient; the encoder can
# still move the codes, and $R$ drifts freely during training. What the scheme does not provide is a
# known distribution over codes: nothing pins their location or scale, nothing makes them fill the
# bounding box, so uniform points still mostly land far from any code, and there is no prior to sample.
# The noise acts on the code, not the input, so it buys robustness of the decoder to perturbed codes,
# not denoising of perturbed images. To check: train an AE and a noisy AE with the same budget over
# several seeds and compare the same samplers (uniform box, fitted Gaussian or mixture) on the same
# yardstick, with the seed spread; notebook 03 does this.
#
# *Marking (3 points):* 1 point for a clear verdict tied to "no known code distribution / box still
# mostly empty"; 1 point for what the noise does impose (decoder smooth at the noise scale, codes kept
# apart relative to R); 1 point for why R-scaling with a detached R matters (no escape by inflating the
# codes) or for a sound measurement plan.

# %% [markdown] nbgrader={"grade": false, "grade_id": "q1-qd-task", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Task 8 · Q1(d): the VAE vs the noisy AE (2 points, graded by hand)
#
# Compare the VAE with the noisy AE of Q1(c). A homework answer says "the noisy AE's encoding remains
# deterministic, while the VAE's is stochastic". Is that the key difference? Name the differences that
# matter for generation.

# %% [markdown] nbgrader={"grade": true, "grade_id": "q1-qd-answer", "locked": false, "points": 2, "schema_version": 3, "solution": true, "task": false}
# **Model answer.** No: the noisy AE already has a stochastic Gaussian encoder,
# $q(z \mid x) = \mathcal N\big(f(x),\, 0.05\,R^2 I\big)$, and its training step is exactly a
# reparameterised sample from it. The differences that matter are: (1) the VAE *learns* the variance of
# $q(z \mid x)$ per input and per dimension, while the noisy AE fixes one isotropic variance tied to the
# batch's spread; (2) the VAE's loss adds $\mathrm{KL}(q(z \mid x) \,\|\, \mathcal N(0, I))$, which pins
# the codes' location and scale to a known prior that one can sample, while the noisy AE's loss is the
# reconstruction term alone (a VAE loss with the KL term deleted and the variance fixed), so its code
# distribution stays unknown; (3) the VAE's loss is a lower bound on $\log p(x)$ (the ELBO), so models
# can be compared by likelihood, and the noisy AE has no such bound. The price of the VAE is blurrier
# reconstructions and samples, and prior holes; an AE or noisy AE plus a density fitted to its codes
# after training can generate as well as or better than VAE prior sampling, so which samples better is a
# question to measure (notebook 03), not to assume.
#
# *Marking (2 points):* 1 point for correcting the "deterministic" claim (the noisy AE is a fixed-variance
# Gaussian encoder); 1 point for the KL-to-prior term (a known distribution to sample) or the learned
# variance or the likelihood bound as the real difference.
