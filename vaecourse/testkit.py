"""Test machinery of the assignments' hidden tests (solutions/q*/): samplers, bans, references.

The hidden part of a test cell (between ``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS`` in
``solutions/<aid>/<aid>.py``) feeds the student's function inputs only the grader sees, records what
it returns (:func:`vaecourse.grading.record`) and asserts what a correct answer must satisfy. The
machinery those cells share lives here, once, with its own unit tests (tests/test_testkit.py), so
that a hidden-test cell holds its inputs, its calls, its records and its teaching assertions only:

- **Pooled samplers** make a Monte Carlo answer deterministic whatever way it draws its samples:
  :class:`PooledGaussian` (a diagonal Gaussian whose ``rsample`` hands out noise from a fixed pool,
  in order) and :func:`pooled_dirichlet` (a stand-in for ``torch._sample_dirichlet``, which
  ``Beta.rsample`` calls). Both raise an ``AssertionError`` that teaches when an answer draws more
  than the pool holds.
- **Bans**: :func:`forbid` makes the function objects themselves raise the given error while the
  student's function runs (it swaps their code objects), so that a call through any name is caught:
  ``from torch.distributions import kl_divergence as kld`` made in an answer cell, a ``partial``, a
  dictionary entry; builtins too (torch's through a ``TorchFunctionMode``). :func:`functions_of` lists a
  class's functions, to refuse a reference class whole. (A module-attribute patch, ``unittest.mock.patch``,
  misses such aliases: every hidden test bans through :func:`forbid`.)
- **References and statistics**: the closed-form KL of diagonal Gaussians, z-scores, a Beta
  expectation by quadrature and its central differences, per-sample pathwise and score-function
  gradients of a Beta expectation, an independent MIG (np.histogram bins, scikit-learn's mutual
  information) and a watch on torch's random state.

Nothing here is student-facing; the released exercises never import it (their visible tests stand
alone). torch is imported at the top (every hidden test that uses this module has imported it
already); scipy and scikit-learn are imported by the functions that need them.
"""

from __future__ import annotations

import contextlib
import math
import sys
import types
from collections.abc import Callable, Iterator
from typing import Any
from unittest import mock

import numpy as np
import torch
from torch.distributions import Beta, Independent, Normal


class PooledGaussian(Independent):
    """A diagonal Gaussian whose samples ``loc + scale * eps`` take ``eps`` from a fixed pool, in order.

    ``pool`` has shape ``(M, *batch_shape, *event_shape)`` (one event per row). Every answer that draws
    its ``num_samples`` samples through ``rsample`` (in one call or in several) gets the same samples as
    the model solution, so its estimate and gradients can be recorded exactly. The pool should hold
    more draws than the answer needs (the course uses ``4 * num_samples``, for answers that draw more
    than once); drawing past its end raises an ``AssertionError`` naming ``expected`` (by default
    ``len(pool) // 4``). ``sample`` draws from the same pool without gradients.
    """

    def __init__(self, loc: torch.Tensor, scale: torch.Tensor, pool: torch.Tensor, expected: int | None = None):
        super().__init__(Normal(loc, scale), 1)
        self.pool, self.used = pool, 0
        self.expected = len(pool) // 4 if expected is None else expected

    def rsample(self, sample_shape=torch.Size()) -> torch.Tensor:
        shape = torch.Size(sample_shape)
        if self.used + shape.numel() > len(self.pool):
            raise AssertionError(
                f"the number of samples drawn from q: expected num_samples = {self.expected}, got "
                f"{self.used + shape.numel()} so far. Hint: draw once, z = q.rsample((num_samples,)), and use the "
                "same samples for the estimate and for its standard error")
        eps = self.pool[self.used:self.used + shape.numel()].reshape(shape + self.batch_shape + self.event_shape)
        self.used += shape.numel()
        return self.base_dist.loc + self.base_dist.scale * eps

    def sample(self, sample_shape=torch.Size()) -> torch.Tensor:
        with torch.no_grad():
            return self.rsample(sample_shape)


def pooled_dirichlet(a: float, b: float, num: int, seed: int) -> Callable[[torch.Tensor], torch.Tensor]:
    """A stand-in for ``torch._sample_dirichlet`` that hands out fixed Beta(a, b) draws (as pairs z, 1 - z), in order.

    Use it as ``mock.patch("torch._sample_dirichlet", new=pooled_dirichlet(a, b, num, seed))``. The pool
    holds ``4 * num`` draws made here with torch's own sampler after ``torch.manual_seed(seed)`` (torch's
    global random state is restored afterwards); gradients still flow through torch's implicit
    reparameterisation. Every answer that draws its ``num`` samples through ``Beta(...).rsample`` (in one
    call or in several) gets the same samples as the model solution. Concentrations other than
    ``(a, b)`` in float64 go to torch's sampler. Drawing past the pool raises an ``AssertionError``.
    """
    original = torch._sample_dirichlet
    concentration = torch.tensor([a, b], dtype=torch.float64)
    state = torch.get_rng_state()
    torch.manual_seed(seed)
    pool = original(concentration.expand(4 * num, 2))
    torch.set_rng_state(state)
    used = [0]

    def sample(alpha: torch.Tensor) -> torch.Tensor:
        if alpha.shape[-1:] != (2,) or alpha.dtype != torch.float64 or not bool((alpha == concentration).all()):
            return original(alpha)
        count = alpha.numel() // 2
        if used[0] + count > 4 * num:
            raise AssertionError(
                f"the number of Beta samples drawn: expected num_samples = {num}, got {used[0] + count} so far. "
                "Hint: draw num_samples samples once, Beta(a_n, b_n).rsample(), and use them for both results")
        x = pool[used[0]:used[0] + count].reshape(alpha.shape).clone()
        used[0] += count
        return x

    return sample


@contextlib.contextmanager
def pooled_beta_samples(a: float, b: float, num: int, seed: int) -> Iterator[None]:
    """Inside the block, ``Beta(a, b).rsample()`` in float64 takes its draws from :func:`pooled_dirichlet` (a, b, num, seed)."""
    with mock.patch("torch._sample_dirichlet", new=pooled_dirichlet(a, b, num, seed)):
        yield


def _raising_code(code: types.CodeType, error: BaseException, calls: list) -> types.CodeType:
    """A code object with ``code``'s free variables whose body notes the call in ``calls`` and raises ``error``."""
    freevars = code.co_freevars
    lines = ["def _outer():", *(f"    {name} = None" for name in freevars),
             "    def _forbidden(*args, **kwargs):"]
    if freevars:  # mention them, so that they are free variables of _forbidden, as of the original
        lines.append(f"        ({', '.join(freevars)},)")
    lines += ["        '__CALLS__'.append(1)", "        raise '__FORBIDDEN__'", "    return _forbidden"]
    namespace: dict = {}
    exec(compile("\n".join(lines), f"<forbidden {code.co_name}>", "exec"), namespace)
    stub = namespace["_outer"]().__code__
    assert stub.co_freevars == freevars, (stub.co_freevars, freevars)
    swap = {"__FORBIDDEN__": error, "__CALLS__": calls}
    consts = tuple(swap.get(c, c) if isinstance(c, str) else c for c in stub.co_consts)
    return stub.replace(co_consts=consts, co_name=code.co_name, co_qualname=code.co_qualname)


_BUILTIN_TYPES = (types.BuiltinFunctionType, types.MethodDescriptorType, types.WrapperDescriptorType,
                  types.ClassMethodDescriptorType)


def _is_builtin_call(called: Any, forbidden: Any) -> bool:
    """Whether the C function of a ``c_call`` profile event is ``forbidden`` (a builtin, or a method of a C type)."""
    if called is forbidden:
        return True
    objclass = getattr(forbidden, "__objclass__", None)  # a method descriptor: also its bound methods
    return (objclass is not None and getattr(called, "__name__", None) == forbidden.__name__
            and isinstance(getattr(called, "__self__", None), objclass))


@contextlib.contextmanager
def forbid(error: BaseException, *functions: Callable) -> Iterator[None]:
    """Inside the block, every call of these functions raises ``error``, under whatever name it is made.

    The function *objects* are caught, not the module attributes that name them: an alias made before the
    block (``from torch.distributions import kl_divergence as kld``), a ``functools.partial`` or a reference
    kept in a container calls the same object and is caught.

    - A Python function or method has its ``__code__`` swapped for one that raises (put back on leaving the
      block, also after an exception).
    - A builtin (``torch.logsumexp``) or a method of a C type (``torch.Tensor.logsumexp``, also called as
      ``x.logsumexp(...)``) has no code object. torch's own functions are refused by a ``TorchFunctionMode``
      (torch.overrides), which sees every call of a torch function, also one made from C (``functools.partial``,
      ``map``); any other builtin by a profile hook (``sys.setprofile``, this thread) at its ``c_call`` event,
      which sees calls made from Python code only. Both raise before the call runs. (Python removes a profile
      hook that raises, so after a first forbidden call that the student's code caught, a second one would
      run; the next point fails it anyway.)

    A forbidden call that the student's code catches (``try: ... except: ...``) still fails the block: on leaving
    it, ``error`` is raised if any forbidden call was made. Anything else raises ``TypeError``.
    """
    python_functions, builtins = [], []
    for function in functions:
        function = getattr(function, "__func__", function)  # a bound Python method: its function
        if isinstance(function, types.FunctionType):
            python_functions.append(function)
        elif isinstance(function, _BUILTIN_TYPES):
            builtins.append(function)
        else:
            raise TypeError(f"forbid works on functions and builtins, got {function!r} ({type(function).__name__})")
    calls: list = []
    originals = [(function, function.__code__) for function in python_functions]
    previous_profile = sys.getprofile()

    def hook(frame, event, arg):
        if event == "c_call" and any(_is_builtin_call(arg, forbidden) for forbidden in builtins):
            calls.append(1)
            raise error
        if previous_profile is not None:
            previous_profile(frame, event, arg)

    class RefuseTorchFunctions(torch.overrides.TorchFunctionMode):
        def __torch_function__(self, func, types_, args=(), kwargs=None):
            if any(func is forbidden for forbidden in builtins):
                calls.append(1)
                raise error
            return func(*args, **(kwargs or {}))

    with contextlib.ExitStack() as stack:
        try:
            for function in python_functions:
                function.__code__ = _raising_code(function.__code__, error, calls)
            if builtins:
                stack.enter_context(RefuseTorchFunctions())
                sys.setprofile(hook)
            yield
        finally:
            if builtins:
                sys.setprofile(previous_profile)
            for function, code in originals:
                function.__code__ = code
    if calls:
        raise error


def chosen_distances(z: torch.Tensor, codebook: torch.Tensor, indices: Any) -> torch.Tensor:
    """float64 squared distance from each row of ``z`` to the code its index names; NaN where the answer is unusable.

    For nearest-code answers in float32, where two nearly equally near codes make the indices ambiguous: the
    distances to the chosen codes are what a correct answer must get right. Unusable answers (not a long tensor
    of shape (N,), or indices out of range) give NaN everywhere, which no record comparison accepts.
    """
    usable = (isinstance(indices, torch.Tensor) and indices.dtype == torch.long and tuple(indices.shape) == (len(z),)
              and bool(((indices >= 0) & (indices < len(codebook))).all()))
    if not usable:
        return torch.full((len(z),), float("nan"), dtype=torch.float64)
    return ((z.double() - codebook.double()[indices]) ** 2).sum(1)


def functions_of(cls: type) -> list[Callable]:
    """Every Python function defined in the body of ``cls``: methods, property accessors, class and static methods.

    For :func:`forbid`, to refuse a class (the course's reference model, say) however an answer reaches it.
    """
    found = []
    for value in vars(cls).values():
        if isinstance(value, property):
            found += [accessor for accessor in (value.fget, value.fset, value.fdel) if accessor is not None]
        elif isinstance(value, (classmethod, staticmethod)):
            found.append(value.__func__)
        elif isinstance(value, types.FunctionType):
            found.append(value)
    return found


class RandomStateWatch:
    """``with RandomStateWatch() as watch: ...`` then ``watch.changed``: whether torch's global random state moved."""

    changed: bool | None = None

    def __enter__(self) -> RandomStateWatch:
        self._before = torch.get_rng_state()
        return self

    def __exit__(self, *exc) -> None:
        self.changed = not torch.equal(torch.get_rng_state(), self._before)


def grad_or_zeros(parameter: torch.Tensor) -> torch.Tensor:
    """``parameter.grad``, or zeros of its shape where no gradient reached it (something to record either way)."""
    return parameter.grad if parameter.grad is not None else torch.zeros_like(parameter)


def diagonal_gaussian_kl(loc_q: torch.Tensor, scale_q: torch.Tensor, loc_p: torch.Tensor,
                         scale_p: torch.Tensor) -> torch.Tensor:
    """KL(N(loc_q, diag scale_q^2) || N(loc_p, diag scale_p^2)) in nats, summed over the last dimension (broadcasts)."""
    return (torch.log(scale_p / scale_q) + (scale_q**2 + (loc_q - loc_p) ** 2) / (2 * scale_p**2) - 0.5).sum(-1)


def z_scores(estimate: torch.Tensor, reference: torch.Tensor, stderr: torch.Tensor) -> list[float]:
    """(estimate - reference) / stderr, elementwise, as a list of floats (estimate and stderr detached)."""
    return ((estimate.detach() - reference) / stderr.detach()).reshape(-1).tolist()


def beta_expectation(f_scalar: Callable[[float], float], a: float, b: float) -> float:
    """E_{z ~ Beta(a, b)}[f(z)] by adaptive quadrature (float64, about 12 digits)."""
    from scipy import integrate, special

    log_norm = special.betaln(a, b)

    def density(z: float) -> float:
        return math.exp((a - 1) * math.log(z) + (b - 1) * math.log1p(-z) - log_norm)

    return integrate.quad(lambda z: f_scalar(z) * density(z), 0.0, 1.0, epsabs=1e-13, epsrel=1e-12, limit=200)[0]


def central_differences(function: Callable[[float, float], float], a: float, b: float, h: float) -> torch.Tensor:
    """[d/da, d/db] of ``function(a, b)`` by central differences with step ``h``, as a float64 tensor (2,)."""
    return torch.tensor([(function(a + h, b) - function(a - h, b)) / (2 * h),
                         (function(a, b + h) - function(a, b - h)) / (2 * h)], dtype=torch.float64)


def beta_pathwise_gradients(a: float, b: float, f: Callable, num: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample pathwise gradients (num, 2) of f(z) with respect to (a, b), z ~ Beta(a, b) by rsample, and z (num,).

    Draws through ``Beta(...).rsample()``, so a :func:`pooled_dirichlet` patch in force supplies the samples.
    """
    a_n = torch.full((num,), a, dtype=torch.float64, requires_grad=True)
    b_n = torch.full((num,), b, dtype=torch.float64, requires_grad=True)
    z = Beta(a_n, b_n).rsample()
    return torch.stack(torch.autograd.grad(f(z).sum(), (a_n, b_n)), dim=-1), z.detach()


def beta_score_function_gradients(a: float, b: float, f: Callable, z: torch.Tensor) -> torch.Tensor:
    """Per-sample score-function gradients f(z) * d log Beta(z; a, b) / d(a, b), shape (len(z), 2)."""
    digamma = torch.special.digamma(torch.tensor([a, b, a + b], dtype=torch.float64))
    return f(z)[:, None] * torch.stack([torch.log(z) - digamma[0] + digamma[2],
                                        torch.log1p(-z) - digamma[1] + digamma[2]], dim=-1)


def beta_pathwise_spread(a: float, b: float, f: Callable, num: int, seed: int) -> torch.Tensor:
    """The standard deviation (2,) of the per-sample pathwise gradients from ``num`` samples drawn after manual_seed(seed).

    torch's global random state is restored afterwards.
    """
    state = torch.get_rng_state()
    torch.manual_seed(seed)
    try:
        return beta_pathwise_gradients(a, b, f, num)[0].std(dim=0)
    finally:
        torch.set_rng_state(state)


def reference_discretize(codes: np.ndarray, num_bins: int) -> np.ndarray:
    """np.histogram's equal-width bins of each column of ``codes`` (N, D), numbered 0 .. num_bins - 1."""
    binned = np.empty(codes.shape, dtype=np.int64)
    for j in range(codes.shape[1]):
        binned[:, j] = np.digitize(codes[:, j], np.histogram_bin_edges(codes[:, j], bins=num_bins)[:-1]) - 1
    return binned


def reference_mig_gaps(codes: np.ndarray, factors: np.ndarray, num_bins: int = 20,
                       normalise: bool = True) -> np.ndarray:
    """Per-factor MIG gaps (K,): top minus second mutual information of a binned code with the factor.

    Independent of the course's and the student's code: np.histogram bins and scikit-learn's
    ``mutual_info_score``. ``normalise`` divides each gap by the factor's entropy H(v_k) (Chen et al.
    2018); without it the gaps are in nats. Call it outside any :func:`forbid` block that bans scikit-learn.
    """
    from sklearn.metrics import mutual_info_score

    binned = reference_discretize(np.asarray(codes, dtype=np.float64), num_bins)
    factors = np.asarray(factors)
    gaps = []
    for k in range(factors.shape[1]):
        information = sorted((mutual_info_score(binned[:, j], factors[:, k]) for j in range(binned.shape[1])),
                             reverse=True)
        entropy = mutual_info_score(factors[:, k], factors[:, k]) if normalise else 1.0
        gaps.append((information[0] - information[1]) / entropy)
    return np.array(gaps)


def reference_mig(codes: np.ndarray, factors: np.ndarray, num_bins: int = 20) -> float:
    """MIG (Chen et al. 2018): the mean over factors of :func:`reference_mig_gaps`, as a float."""
    return float(np.mean(reference_mig_gaps(codes, factors, num_bins)))
