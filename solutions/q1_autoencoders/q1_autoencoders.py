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
# to study that gap: a measure of how much of the codes' bounding box is actually near data, the
# density and coverage that tell a sample set's fidelity from its variety, a Gaussian fitted to the
# codes after training and sampled at the right scale, and the R-scaled noise layer of homework
# question 1(c). Then you answer the four parts of Question 1 in writing. The graded cells train
# nothing; each runs in about a second.
#
# | task | what you do | points | graded |
# | --- | --- | --- | --- |
# | 1 | `box_occupancy`: how much of the bounding box lies near a code | 3 | automatically |
# | 2 | `density_coverage`: fidelity and variety of a sample set, with k-nearest-neighbour balls | 2 | automatically |
# | 3 | `sample_fitted_gaussian`: draw codes from a Gaussian fitted to the codes | 2 | automatically |
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

import torch

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
    "0.25 or 0, did you leave each code's zero distance to itself in the spacing? If 0.5, did you take the spacing "
    "from the points' distances to the codes instead of the codes' distances to each other?")
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
from vaecourse import testkit

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
with testkit.forbid(no_reference_q1oh, vc.latent.box_occupancy):
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

# %% [markdown] nbgrader={"grade": false, "grade_id": "q1-density-task", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Task 2 · Density and coverage of a sample set (2 points)
#
# To judge generated samples, lecture notebooks 00–03 ask two questions apart (Naeem et al. 2020): do
# the samples lie near real data (**fidelity**), and do they reach all of it (**variety**)? Both are
# counted with balls around the real points:
#
# 1. around each real point $x_i$ ($i = 1, \dots, N$) lies a ball whose radius $r_i$ is the distance
#    from $x_i$ to its $k$-th nearest **other** real point (its zero distance to itself does not count);
#    a sample $y_j$ is inside the ball when $\lVert y_j - x_i \rVert \le r_i$ (**at most**);
# 2. the **density** counts the (sample, real ball) pairs with the sample inside, divided by $k$ times
#    the number $M$ of samples:
#    $\displaystyle \text{density} = \frac{1}{kM} \sum_{j=1}^{M} \sum_{i=1}^{N} \mathbb 1\big[\lVert y_j - x_i \rVert \le r_i\big]$.
#    Samples spread like the real data score about 1, samples far from the data 0, and samples crowding
#    into dense regions can score above 1;
# 3. the **coverage** is the share of the $N$ real balls that hold at least one sample: a generator that
#    repeats one good digit has a high density but a coverage near 0.
#
# A worked example you can check by hand: real points 0, 1 and 3 on a line, $k = 1$. Their radii are 1,
# 1 and 2. The sample 0.5 lies in the balls of 0 and of 1 (not of 3: $2.5 > 2$), the sample 10 in none:
# density $= 2 / (1 \cdot 2) = 1$, coverage $= 2/3$.
#
# Implement `density_coverage(real, samples, k)`. Return the pair `(density, coverage)` as two Python
# `float`s. Distances are Euclidean (`torch.cdist` computes all pairs at once). The notebooks apply the
# same function to a digit classifier's features of images; here it works on any points. Do not call
# `vc.yardstick.density_coverage` or `vc.yardstick.density_coverage_from_features`: the hidden tests
# switch them off while your function runs.

# %% nbgrader={"grade": false, "grade_id": "q1-density-impl", "locked": false, "schema_version": 3, "solution": true, "task": false}
def density_coverage(real: torch.Tensor, samples: torch.Tensor, k: int = 5) -> tuple[float, float]:
    """Density and coverage (Naeem et al. 2020) of ``samples`` against ``real``, with k-nearest-neighbour balls.

    Parameters
    ----------
    real : torch.Tensor, shape (N, D), N > k
        The real points; each one's ball reaches to its k-th nearest other real point.
    samples : torch.Tensor, shape (M, D)
        The points to judge.
    k : int
        Which neighbour sets the radius of each ball.

    Returns
    -------
    (float, float)
        The density (pairs of a sample inside a real ball, divided by k * M) and the coverage (the share
        of real balls holding at least one sample).
    """
    ### BEGIN SOLUTION
    real = torch.as_tensor(real).double()
    samples = torch.as_tensor(samples).double()
    # column 0 of each sorted row is the point itself, at distance 0: the k-th other point is column k
    radii = torch.cdist(real, real).sort(dim=1).values[:, k]
    inside = torch.cdist(samples, real) <= radii[None, :]  # (M, N): sample j inside the ball of real point i
    density = inside.sum().item() / (k * len(samples))
    coverage = inside.any(dim=0).double().mean().item()
    return density, coverage
    ### END SOLUTION


# %%
# Try it (not graded): 300 real points from a 2-D standard normal, against three sample sets.
gen_try_dc = torch.Generator().manual_seed(4)
real_try_dc = torch.randn(300, 2, generator=gen_try_dc)
sets_try_dc = {
    "300 more points from the same normal": torch.randn(300, 2, generator=gen_try_dc),
    "300 points from a normal 1/4 as wide": 0.25 * torch.randn(300, 2, generator=gen_try_dc),
    "300 points from a normal 3 times as wide": 3 * torch.randn(300, 2, generator=gen_try_dc),
    "300 copies of the densest point (0, 0)": torch.zeros(300, 2),
    "300 points shifted 5 away": torch.randn(300, 2, generator=gen_try_dc) + 5,
}
for name_try_dc, samples_try_dc in sets_try_dc.items():
    density_try_dc, coverage_try_dc = density_coverage(real_try_dc, samples_try_dc, k=5)
    print(f"{name_try_dc:<40} density {density_try_dc:5.2f}  coverage {coverage_try_dc:5.2f}")

# %% nbgrader={"grade": true, "grade_id": "q1-density-tests", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
"""density_coverage: (pairs of a sample in a real point's k-NN ball) / (k M); the share of real balls with a sample."""
# Real points 0, 1, 3 with k = 1: radii 1, 1, 2. The sample 0.5 is in the balls of 0 and 1, the sample 10 in none.
result_q1d = density_coverage(torch.tensor([[0.0], [1.0], [3.0]]), torch.tensor([[0.5], [10.0]]), k=1)
assert isinstance(result_q1d, tuple) and len(result_q1d) == 2 and all(isinstance(v, float) for v in result_q1d), (
    f"the result of density_coverage: expected a pair of Python floats (density, coverage), got {result_q1d!r}. "
    "Hint: return density, coverage, each converted with .item() or float()")
vc.grading.assert_close(result_q1d[0], 1.0, what="the density of the samples 0.5 and 10 against real points 0, 1, 3 "
                        "(k = 1)",
                        hint="the radii are 1, 1, 2 and 0.5 lies in 2 balls, 10 in none: 2 pairs / (k * 2 samples) = 1. "
                             "0 means your radius counts each point as its own nearest neighbour (distance 0); 2/3 "
                             "means you divided by the number of real points; 0.5 means you counted the samples "
                             "inside some ball instead of the pairs")
vc.grading.assert_close(result_q1d[1], 2 / 3, what="the coverage of the same example",
                        hint="2 of the 3 real balls (those of 0 and 1) hold a sample. 0.5 means you counted the share "
                             "of samples inside some ball, not the share of real balls holding a sample")
# Real points 0, 1, 2, 4 with k = 2: radii 2, 1, 2, 3. The sample 0.5 is in 3 balls, 1.5 in all 4, 8 in none.
density_q1d, coverage_q1d = density_coverage(torch.tensor([[0.0], [1.0], [2.0], [4.0]]),
                                             torch.tensor([[0.5], [1.5], [8.0]]), k=2)
vc.grading.assert_close(density_q1d, 7 / 6, what="the density of the samples 0.5, 1.5, 8 against real points 0, 1, "
                        "2, 4 (k = 2)",
                        hint="the radii (2nd nearest other point) are 2, 1, 2, 3; the samples lie in 3, 4 and 0 balls: "
                             "7 pairs / (k = 2 * 3 samples) = 7/6. 7/3 means you did not divide by k; 2/3 means your "
                             "radius is the distance to the (k-1)-th other point (the point itself counted as one)")
vc.grading.assert_close(coverage_q1d, 1.0, what="the coverage of the same example",
                        hint="every one of the 4 real balls holds a sample (1.5 lies in all of them)")
print("density_coverage: visible tests passed")
### BEGIN HIDDEN TESTS
from vaecourse import testkit

gen_q1dh = torch.Generator().manual_seed(2468)
real_5d_q1dh = torch.randn(60, 5, generator=gen_q1dh, dtype=torch.float64)
samples_5d_q1dh = 1.3 * torch.randn(40, 5, generator=gen_q1dh, dtype=torch.float64) + 0.3
centres_q1dh = torch.tensor([[-4.0, 0.0], [4.0, 0.0]], dtype=torch.float64)
real_two_q1dh = centres_q1dh[torch.arange(80) % 2] + torch.randn(80, 2, generator=gen_q1dh, dtype=torch.float64)
samples_one_q1dh = centres_q1dh[0] + 0.8 * torch.randn(50, 2, generator=gen_q1dh, dtype=torch.float64)
real_same_q1dh = torch.randn(150, 3, generator=gen_q1dh, dtype=torch.float64)
samples_same_q1dh = torch.randn(150, 3, generator=gen_q1dh, dtype=torch.float64)
# (real, samples, k); no sample of these cases lies within 0.02 % of a ball's radius from its edge, so rounding
# (float32, torch.cdist's matrix-product path) cannot move one across
cases_q1dh = {"5-D, samples wider and shifted (k = 3)": (real_5d_q1dh, samples_5d_q1dh, 3),
              "2-D, two clusters, samples in one (k = 5)": (real_two_q1dh, samples_one_q1dh, 5),
              "3-D, samples from the real points' distribution (k = 5)": (real_same_q1dh, samples_same_q1dh, 5)}
before_q1dh = {case: (real.clone(), samples.clone()) for case, (real, samples, _) in cases_q1dh.items()}
no_reference_q1dh = AssertionError(
    "density_coverage called vaecourse.yardstick: expected your own counting, got a call to the package's "
    "reference. Hint: compute the radii and the pairs inside with torch.cdist")
result_q1dh = {}
with testkit.forbid(no_reference_q1dh, vc.yardstick.density_coverage, vc.yardstick.density_coverage_from_features):
    for case_q1dh, (real_q1dh, samples_q1dh, k_q1dh) in cases_q1dh.items():
        result_q1dh[case_q1dh] = density_coverage(real_q1dh, samples_q1dh, k=k_q1dh)
hint_q1dh = ("radius of real point i = distance to its k-th nearest OTHER real point; density = (pairs with "
             "|sample - real_i| <= radius_i) / (k * number of samples); coverage = share of real points whose ball "
             "holds at least one sample")
vc.grading.record("density and coverage of the first visible example (k = 1)", list(result_q1d), atol=1e-9,
                  hint=hint_q1dh)
vc.grading.record("density and coverage of the second visible example (k = 2)", [density_q1d, coverage_q1d],
                  atol=1e-9, hint=hint_q1dh)
for case_q1dh, (real_q1dh, samples_q1dh, k_q1dh) in cases_q1dh.items():
    # counts must agree exactly: half a pair for the density, half a ball for the coverage
    vc.grading.record(f"density, {case_q1dh}", result_q1dh[case_q1dh][0], atol=0.5 / (k_q1dh * len(samples_q1dh)),
                      hint=hint_q1dh)
    vc.grading.record(f"coverage, {case_q1dh}", result_q1dh[case_q1dh][1], atol=0.5 / len(real_q1dh), hint=hint_q1dh)


def reference_density_coverage_q1dh(real, samples, k):
    """A float64 reference written out with broadcasting, and the values of common mistakes."""
    between = ((real[:, None, :] - real[None, :, :]) ** 2).sum(-1).sqrt()
    radii = between.sort(dim=1).values
    distances = ((samples[:, None, :] - real[None, :, :]) ** 2).sum(-1).sqrt()
    inside = distances <= radii[:, k][None, :]
    inside_self = distances <= radii[:, k - 1][None, :]
    pairs = inside.sum().item()
    right = (pairs / (k * len(samples)), inside.any(dim=0).double().mean().item())
    mistakes = {
        "the point itself counted as its own nearest neighbour (radius of the (k-1)-th other point)":
            (inside_self.sum().item() / (k * len(samples)), inside_self.any(dim=0).double().mean().item()),
        "a density not divided by k": (pairs / len(samples), right[1]),
        "a density divided by the number of real points instead of samples": (pairs / (k * len(real)), right[1]),
        "a coverage counted over the samples (share inside some ball)":
            (right[0], inside.any(dim=1).double().mean().item()),
    }
    return right, mistakes


for case_q1dh, (real_q1dh, samples_q1dh, k_q1dh) in cases_q1dh.items():
    for name_q1dh, tensor_q1dh, before_tensor_q1dh in zip(("real", "samples"), (real_q1dh, samples_q1dh),
                                                          before_q1dh[case_q1dh]):
        vc.grading.assert_close(tensor_q1dh, before_tensor_q1dh, rtol=0, atol=0,
                                what=f"the {name_q1dh} points after the call ({case_q1dh})",
                                hint="density_coverage changed its input in place; work on a copy")
    expected_q1dh, mistakes_q1dh = reference_density_coverage_q1dh(real_q1dh, samples_q1dh, k_q1dh)
    package_q1dh = vc.yardstick.density_coverage_from_features(real_q1dh, samples_q1dh, k=k_q1dh)
    vc.grading.assert_close(list(package_q1dh), list(expected_q1dh), rtol=0, atol=1e-12,  # the test's two references
                            what=f"the test's two references for {case_q1dh} (vaecourse.yardstick, broadcasting)",
                            hint="your answer cells must not change torch or vaecourse.yardstick")
    got_q1dh = result_q1dh[case_q1dh]
    matches_q1dh = [name for name, value in mistakes_q1dh.items() if value != expected_q1dh
                    and all(abs(a - b) < 1e-9 for a, b in zip(value, got_q1dh))]
    vc.grading.assert_close(
        list(got_q1dh), list(expected_q1dh), rtol=0, atol=1e-9,
        what=f"(density, coverage), {case_q1dh}",
        hint=hint_q1dh + (f". Your result matches a common mistake: {'; '.join(matches_q1dh)}" if matches_q1dh else ""))
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "q1-gaussian-task", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Task 3 · A Gaussian fitted to the codes, sampled at the right scale (2 points)
#
# A plain AE has no prior, but one can be fitted **after training**: encode the training set, fit a
# density to the codes, draw new codes from it and decode them ("ex-post density estimation", Ghosh et
# al. 2020). The simplest such density is one Gaussian with the codes' mean and covariance. For codes
# $z_1, \dots, z_N \in \mathbb R^D$, the maximum-likelihood fit is
#
# $$
# m = \frac1N \sum_{n=1}^{N} z_n, \qquad C = \frac1N \sum_{n=1}^{N} (z_n - m)(z_n - m)^\top
# \quad (\text{divide by } N\text{, not } N - 1).
# $$
#
# To draw from $\mathcal N(m, C)$, factor $C = L L^\top$ with $L$ lower triangular (the Cholesky factor,
# `torch.linalg.cholesky`) and set $z = m + L\,\varepsilon$ with $\varepsilon \sim \mathcal N(0, I)$:
# its covariance is $L\,I\,L^\top = C$. With the draws as the rows of a matrix $E$, that is
# $Z = m + E L^\top$. Two shortcuts look similar and are wrong: $m + C\varepsilon$ has covariance $C^2$
# (the scale squared, like using a variance for a standard deviation), and $m + \sigma \odot \varepsilon$
# with the per-axis standard deviations has the right variances but no correlation between the axes.
#
# Implement `sample_fitted_gaussian(codes, eps)`. The standard normal draws `eps`, shape `(M, D)`, come
# from the caller (the try-it cell uses `torch.randn`), so the function is deterministic. Return the
# `M` new codes, shape `(M, D)`, in the dtype of `codes`. The codes' covariance is positive definite in
# every test.

# %% nbgrader={"grade": false, "grade_id": "q1-gaussian-impl", "locked": false, "schema_version": 3, "solution": true, "task": false}
def sample_fitted_gaussian(codes: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """Codes drawn from the Gaussian fitted to ``codes``: ``m + eps @ L.T``, with C = L L^T the ML covariance.

    Parameters
    ----------
    codes : torch.Tensor, shape (N, D)
        Latent codes of a data set.
    eps : torch.Tensor, shape (M, D)
        Standard normal draws, one row per new code, drawn by the caller.

    Returns
    -------
    torch.Tensor, shape (M, D)
        The new codes, distributed as N(m, C) when the rows of eps are N(0, I).
    """
    ### BEGIN SOLUTION
    mean = codes.mean(dim=0)
    centred = codes - mean
    covariance = centred.T @ centred / len(codes)
    factor = torch.linalg.cholesky(covariance)  # lower triangular, factor @ factor.T = covariance
    return mean + eps @ factor.T
    ### END SOLUTION


# %%
# Try it (not graded): 2,000 correlated 2-D codes; 100,000 draws from the fitted Gaussian should have their
# mean, standard deviations and correlation.
gen_try_gauss = torch.Generator().manual_seed(5)
codes_try_gauss = (torch.randn(2000, 2, generator=gen_try_gauss, dtype=torch.float64)
                   @ torch.tensor([[3.0, 0.0], [2.4, 0.6]], dtype=torch.float64).T + torch.tensor([3.0, -1.0],
                                                                                                dtype=torch.float64))
draws_try_gauss = sample_fitted_gaussian(codes_try_gauss,
                                         torch.randn(100_000, 2, generator=gen_try_gauss, dtype=torch.float64))
for name_try_gauss, points_try_gauss in {"codes": codes_try_gauss, "draws": draws_try_gauss}.items():
    print(f"{name_try_gauss:>5}: mean {[round(v, 2) for v in points_try_gauss.mean(0).tolist()]}, "
          f"std {[round(v, 2) for v in points_try_gauss.std(0).tolist()]}, "
          f"correlation {torch.corrcoef(points_try_gauss.T)[0, 1].item():.3f}")

# %% nbgrader={"grade": true, "grade_id": "q1-gaussian-tests", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
"""sample_fitted_gaussian returns m + eps @ L.T: m the codes' mean, L the Cholesky factor of their ML covariance."""
# Four codes with mean (1, 2) and covariance [[4, 2], [2, 2]] (divided by N = 4), whose Cholesky factor is
# L = [[2, 0], [1, 1]]: the draws eps = (1, 0), (0, 1), (1, 1) give m + L eps = (3, 3), (1, 3), (3, 4).
codes_q1f = torch.tensor([[3.0, 4.0], [-1.0, 0.0], [3.0, 2.0], [-1.0, 2.0]])
eps_q1f = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
draws_q1f = sample_fitted_gaussian(codes_q1f, eps_q1f)
assert isinstance(draws_q1f, torch.Tensor), (
    f"the type of the result: expected a torch.Tensor, got {type(draws_q1f).__name__}. "
    "Hint: build the draws with torch operations")
expected_q1f = torch.tensor([[3.0, 3.0], [1.0, 3.0], [3.0, 4.0]])
mistakes_q1f = {"(5, 4)": "you scaled eps by the covariance C instead of its Cholesky factor L",
                "(3, 2)": "you scaled eps by the per-axis standard deviations (2, 1.41) and lost the correlation, or "
                          "multiplied eps @ L instead of eps @ L.T",
                "(2, 1)": "you left out the mean m"}
first_q1f = f"({draws_q1f[0, 0].item():.3g}, {draws_q1f[0, 1].item():.3g})" if tuple(draws_q1f.shape) == (3, 2) else "?"
vc.grading.assert_close(
    draws_q1f, expected_q1f, rtol=1e-5, atol=1e-5,
    what="the draws eps = (1, 0), (0, 1), (1, 1) from the Gaussian fitted to 4 codes with mean (1, 2) and covariance "
         "[[4, 2], [2, 2]]",
    hint="L = [[2, 0], [1, 1]] (check: L @ L.T = C), so m + L eps = (3, 3), (1, 3), (3, 4). "
         + (f"Your first draw is {first_q1f}: {mistakes_q1f[first_q1f]}." if first_q1f in mistakes_q1f else
            "Divide the covariance by N (= 4), not N - 1, and take torch.linalg.cholesky of it."))
vc.grading.assert_equal(str(draws_q1f.dtype), "torch.float32", what="the dtype of the draws for float32 codes",
                        hint="stay in the dtype of the codes")
print("sample_fitted_gaussian: visible tests passed")
### BEGIN HIDDEN TESTS
gen_q1fh = torch.Generator().manual_seed(909)
mixing_q1fh = torch.tensor([[2.0, 0.0, 0.0, 0.0], [1.5, 0.5, 0.0, 0.0], [-1.0, 0.3, 0.8, 0.0], [0.2, -0.4, 0.1, 0.3]],
                           dtype=torch.float64)
codes_q1fh = (torch.randn(300, 4, generator=gen_q1fh, dtype=torch.float64) @ mixing_q1fh.T
              + torch.tensor([5.0, -2.0, 0.0, 1.0], dtype=torch.float64))
eps_q1fh = torch.randn(64, 4, generator=gen_q1fh, dtype=torch.float64)
before_q1fh = (codes_q1fh.clone(), eps_q1fh.clone())
draws_q1fh = sample_fitted_gaussian(codes_q1fh, eps_q1fh)
hint_q1fh = ("m + eps @ L.T with m the mean of the codes and L = torch.linalg.cholesky(C), C the covariance "
             "divided by N: not C itself, not the per-axis standard deviations, not eps @ L")
vc.grading.record("draws from the 4 visible codes (float32)", draws_q1f, rtol=1e-5, atol=1e-5, hint=hint_q1fh)
vc.grading.record("64 draws from a Gaussian fitted to 300 correlated 4-D codes (float64)", draws_q1fh, rtol=1e-9,
                  atol=1e-9, hint=hint_q1fh)
vc.grading.record("codes and eps after the call (sums over rows)", [codes_q1fh.sum(0), eps_q1fh.sum(0)], rtol=1e-12,
                  atol=1e-12, hint="sample_fitted_gaussian must not change codes or eps in place")
for name_q1fh, tensor_q1fh, before_tensor_q1fh in zip(("codes", "eps"), (codes_q1fh, eps_q1fh), before_q1fh):
    vc.grading.assert_close(tensor_q1fh, before_tensor_q1fh, rtol=0, atol=0, what=f"{name_q1fh} after the call",
                            hint="sample_fitted_gaussian changed its input in place; work on a copy")
vc.grading.assert_equal(str(draws_q1fh.dtype), "torch.float64", what="the dtype of the draws for float64 codes",
                        hint="stay in the dtype of the codes")
mean_q1fh = codes_q1fh.mean(0)
covariance_q1fh = (codes_q1fh - mean_q1fh).T @ (codes_q1fh - mean_q1fh) / len(codes_q1fh)
factor_q1fh = torch.linalg.cholesky(covariance_q1fh)
variants_q1fh = {
    "the covariance C instead of its Cholesky factor": mean_q1fh + eps_q1fh @ covariance_q1fh.T,
    "per-axis standard deviations (no correlation)": mean_q1fh + eps_q1fh * covariance_q1fh.diagonal().sqrt(),
    "eps @ L instead of eps @ L.T": mean_q1fh + eps_q1fh @ factor_q1fh,
    "the covariance divided by N - 1": mean_q1fh + eps_q1fh @ torch.linalg.cholesky(covariance_q1fh * 300 / 299).T,
    "no mean": eps_q1fh @ factor_q1fh.T,
}
names_q1fh = [name for name, value in variants_q1fh.items()
              if value.shape == draws_q1fh.shape and torch.allclose(draws_q1fh, value, rtol=1e-9, atol=1e-9)]
vc.grading.assert_close(draws_q1fh, mean_q1fh + eps_q1fh @ factor_q1fh.T, rtol=1e-9, atol=1e-9,
                        what="64 draws from a Gaussian fitted to 300 correlated 4-D codes (float64)",
                        hint=hint_q1fh + (f". Your result matches: {', '.join(names_q1fh)}" if names_q1fh else ""))
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
from vaecourse import testkit

gen_q1nh = torch.Generator().manual_seed(808)
z_q1nh = 4 * torch.randn(16, 5, generator=gen_q1nh, dtype=torch.float64) + 10
eps_q1nh = torch.randn(16, 5, generator=gen_q1nh, dtype=torch.float64)
inputs_before_q1nh = (z_q1nh.clone(), eps_q1nh.clone())
no_reference_q1nh = AssertionError(
    "add_code_noise called vaecourse.models.code_rms_radius: expected your own R, got a call to the package's. "
    "Hint: R = sqrt(mean over codes of the squared distance to the mean code)")
with testkit.forbid(no_reference_q1nh, vc.models.code_rms_radius):
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
# Codes 0 and 2 in 1-D: R = 1. With R detached, noisy = z + 1 * eps and each gradient of sum(noisy) is 1.
z_small_q1g = torch.tensor([[0.0], [2.0]], dtype=torch.float64, requires_grad=True)
add_code_noise(z_small_q1g, 1.0, torch.ones(2, 1, dtype=torch.float64)).sum().backward()
vc.grading.assert_close(z_small_q1g.grad, torch.ones(2, 1, dtype=torch.float64), rtol=1e-12, atol=1e-12,
                        what="d sum(noisy) / dz for the codes 0 and 2 (R = 1), eps = 1, noise_factor 1",
                        hint="R = 1 is a constant for autograd once detached, so noisy = z + 1 and each gradient is "
                             "1. Gradients (0, 2) mean a gradient flows through R: call .detach() on R")
print("add_code_noise gradients: visible tests passed")
### BEGIN HIDDEN TESTS
hint_q1gh = ("the noise term is a constant for autograd because R is detached, so the gradient is exactly w. "
             "An extra term means a gradient flows through R: compute R from the codes, then call .detach() on it")
vc.grading.record("d sum(w * noisy) / dz (6 x 3, noise_factor 0.5)", z_q1g.grad, rtol=1e-12, atol=1e-12,
                  hint=hint_q1gh)
vc.grading.record("d sum(noisy) / dz for the codes 0 and 2", z_small_q1g.grad, rtol=1e-12, atol=1e-12, hint=hint_q1gh)
vc.grading.assert_close(z_q1g.grad, weights_q1g, rtol=1e-12, atol=1e-12, what="d sum(w * noisy) / dz", hint=hint_q1gh)
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "q1-demo-task", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Optional demo · your functions on trained models (not graded)
#
# The next cell trains a small AE, an AE with R-scaled code noise and a VAE (16-D codes, a few epochs
# each, a few seconds in all) and uses your functions on them: the occupancy of each model's
# bounding box, and images decoded from uniform box points, from a Gaussian fitted to the codes (your
# `sample_fitted_gaussian`) and from the VAE's prior, all scored with the course's yardstick on a digit
# classifier's features: the Fréchet distance (lower is better), the density and coverage of Task 2
# (k = 5), the number of digit classes present, the classifier's confidence, and the mean pixel
# distance to the nearest training image (near 0 for copies). Real held-out digits and uniform noise
# are the two reference rows. Then your `density_coverage`, run on the same classifier features, is
# compared with the table's two columns. It is a quick look, one seed and short training, not a
# measurement: notebooks 01–03 measure the same comparisons properly, over several seeds. The grader
# skips this cell (it checks `NBGRADER_EXECUTION`).

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
        eps_demo = torch.randn(500, codes_demo.shape[1], generator=torch.Generator().manual_seed(0))
        samples_demo[f"{name_demo}: fitted Gaussian"] = vc.latent.decode_mean(
            model_demo, sample_fitted_gaussian(codes_demo, eps_demo))
    samples_demo["VAE: prior"] = vc.latent.decode_mean(
        models_demo["VAE"], torch.randn(500, 16, generator=torch.Generator().manual_seed(0)))
    reference_demo, real_demo = vc.yardstick.split_held_out(x_test_demo, seed=0)
    rows_demo = vc.yardstick.sample_quality(samples_demo, reference=reference_demo, real=real_demo,
                                            train_images=x_train_demo, seed=0)
    print(vc.yardstick.format_quality_table(rows_demo))
    print("box occupancy (16-D codes): " + ", ".join(f"{k} {v:.3f}" for k, v in occupancy_demo.items()))
    # Every set has 500 images and so has the reference: sample_quality only shuffles them, so your
    # density_coverage on the same features must give the table's columns (up to rounding of the features).
    features_reference_demo = vc.yardstick.classifier_features(reference_demo)
    sets_demo = {"real held-out digits": real_demo, **samples_demo}
    gaps_demo = []
    for row_demo in rows_demo:
        if row_demo.name in sets_demo:
            yours_demo = density_coverage(features_reference_demo,
                                          vc.yardstick.classifier_features(sets_demo[row_demo.name]), k=5)
            gaps_demo.append(max(abs(yours_demo[0] - row_demo.density), abs(yours_demo[1] - row_demo.coverage)))
    print(f"your density_coverage on the classifier's features, {len(gaps_demo)} sets: largest difference from "
          f"the table's density and coverage {max(gaps_demo):.1e}")
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
# The principled fix is to fit a density to the codes after training (a Gaussian as in Task 3, or a
# Gaussian mixture) and sample from that; Ghosh et al. (2020) found such samples comparable to or better than a
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
# 1. **Prior sampling** (unconditional): $z \sim \mathcal N(0, I)$, decode.
# 2. **Posterior sampling** (needs an input $x$): $z \sim q(z \mid x)$ gives variations of a given image.
# 3. **Interpolation** (needs two inputs): decode points on the path between the codes of two images;
#    spherical interpolation keeps the path where prior samples live in high dimension, linear
#    interpolation cuts through the low-norm middle.
# 4. **Latent arithmetic** (needs labelled inputs): add a class-mean or attribute difference vector to
#    a code.
# 5. **Ex-post density estimation** (unconditional): fit a Gaussian (Task 3) or a Gaussian mixture to
#    the encoded means and sample it; it often beats prior sampling, and it works for a plain AE too.
# Conditional VAEs (decode with a label) and importance-resampled or MCMC-refined codes are further
# options. "A regularised latent space" is a property of training, not a method: it is what makes 1–3
# work. How the VAE helps: the KL term pulls every $q(z \mid x)$ toward $\mathcal N(0, I)$, which fixes
# the codes' location and scale to a known distribution, and the decoder is trained on sampled codes, not
# only isolated points (notebook 01 finds that a VAE's decoder renders draws far from its codes better
# than a plain AE's does; why, it does not measure). It does not guarantee good
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
# sentences: what structure does the noise impose, what does scaling it by $R$ do (and what changes when
# no gradient flows through $R$), and what does it still not provide? How would you check your answer by
# measurement?

# %% [markdown] nbgrader={"grade": true, "grade_id": "q1-qc-answer", "locked": false, "points": 3, "schema_version": 3, "solution": true, "task": false}
# **Model answer.** Not reliably, and the reason is not that the noise does nothing. The noise does
# impose structure: to reconstruct well the decoder must give the same image for every point within a
# ball of radius about $\sqrt{0.05\,D}\,R$ around a code, and codes of different images must be kept
# apart relative to $R$, so the decoder becomes smooth on the scale of the noise. Scaling by $R$ matters:
# with noise of a fixed size the encoder can make it negligible by spreading its codes further apart,
# while $R$-scaled noise keeps the same size relative to the codes whatever their scale. With $R$
# detached, each gradient step treats the noise's size as fixed, so the encoder still gains by spreading
# its codes, and $R$ follows them: in notebook 03 the codes inflate most with $R$ detached (more than
# with a fixed scale), while with the gradient flowing through $R$ they stay smaller than a plain AE's. What the scheme does not provide is a
# known distribution over codes: nothing pins their location or scale, nothing makes them fill the
# bounding box, so uniform points still mostly land far from any code, and there is no prior to sample.
# The noise acts on the code, not the input, so it buys robustness of the decoder to perturbed codes,
# not denoising of perturbed images. To check: train an AE and a noisy AE with the same budget over
# several seeds and compare the same samplers (uniform box, fitted Gaussian or mixture) on the same
# yardstick (Fréchet distance, and density and coverage to tell fidelity from variety), with the seed
# spread; notebook 03 does this.
#
# *Marking (3 points):* 1 point for a clear verdict tied to "no known code distribution / box still
# mostly empty"; 1 point for what the noise does impose (decoder smooth at the noise scale, codes kept
# apart relative to R); 1 point for what R-scaling does (the noise keeps its size relative to the codes)
# and what detaching R leaves open (the codes still drift), or for a sound measurement plan.

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
