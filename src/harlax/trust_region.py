"""Natural-gradient step under a KL bound: Fisher-vector product, conjugate gradient,
backtracking line search (TRPO; HATRPO applies it to one agent at a time).

Parameters are flattened with `ravel_pytree`; all functions are pure and jit-able.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree
from jax.scipy.sparse.linalg import cg

from harlax.types import Array, PyTree


class TrustRegionInfo(NamedTuple):
    accepted: Array  # [] bool: a step was accepted
    fraction: Array  # [] fraction of the full step taken (0 if rejected)
    kl: Array  # [] mean KL of the taken step
    improvement: Array  # [] surrogate improvement of the taken step
    expected_improvement: Array  # [] first-order prediction for the full step


def fisher_vector_product(
    kl_fn: Callable[[Array], Array], flat: Array, damping: float
) -> Callable[[Array], Array]:
    """`v -> (H_KL + damping I) v`, H_KL the Hessian of `kl_fn` at `flat` (forward-over-reverse)."""
    grad_kl = jax.grad(kl_fn)

    def product(v: Array) -> Array:
        return jax.jvp(grad_kl, (flat,), (v,))[1] + damping * v

    return product


def conjugate_gradient(matvec: Callable[[Array], Array], b: Array, iters: int) -> Array:
    """Approximate solution of `A x = b` after at most `iters` CG iterations (jax.scipy).

    CG stops early once the residual is ~1e-10 of `b` (or 1e-15 absolute): iterating past
    convergence divides denormal numbers by each other (XLA flushes them to zero) and
    returns NaN, which happens on small problems such as tabular policies.
    """
    x, _ = cg(matvec, b, maxiter=iters, tol=1e-10, atol=1e-15)
    return x


def trust_region_step(
    params: PyTree,
    surrogate_fn: Callable[[PyTree], Array],
    kl_fn: Callable[[PyTree], Array],
    max_kl: float,
    cg_iters: int,
    damping: float,
    line_search_steps: int,
    accept_ratio: float,
    backtrack_coef: float,
) -> tuple[PyTree, TrustRegionInfo]:
    """Maximise `surrogate_fn` subject to `kl_fn(new) <= max_kl`.

    `kl_fn(params)` must be the mean KL from the fixed old policy to `params`'s policy
    (zero with zero gradient at the old parameters). The full step is
    `sqrt(2 max_kl / x^T F x) x` with `x = CG(F, g)`; the line search tries fractions
    `backtrack_coef**k`, k < line_search_steps, and takes the first whose KL is within the
    bound and whose improvement is positive and at least `accept_ratio` of the expected
    one. If none is accepted the parameters are returned unchanged.
    """
    flat, unravel = ravel_pytree(params)
    surrogate = lambda f: surrogate_fn(unravel(f))
    kl = lambda f: kl_fn(unravel(f))

    base, grad = jax.value_and_grad(surrogate)(flat)
    fvp = fisher_vector_product(kl, flat, damping)
    direction = conjugate_gradient(fvp, grad, cg_iters)
    curvature = jnp.dot(direction, fvp(direction))
    scale = jnp.sqrt(2.0 * max_kl / jnp.maximum(curvature, 1e-12))
    full_step = scale * direction
    full_step = jnp.where(jnp.all(jnp.isfinite(full_step)), full_step, 0.0)  # never NaN
    expected = jnp.dot(grad, full_step)

    def evaluate(k):
        fraction = backtrack_coef ** k.astype(flat.dtype)
        candidate = flat + fraction * full_step
        improvement = surrogate(candidate) - base
        step_kl = kl(candidate)
        ok = (
            (step_kl <= max_kl)
            & (improvement > 0)
            & (improvement >= accept_ratio * expected * fraction)
        )
        return ok, fraction, step_kl, improvement

    def cond(carry):
        k, accepted = carry[0], carry[1]
        return (k < line_search_steps) & ~accepted

    def body(carry):
        k = carry[0]
        ok, fraction, step_kl, improvement = evaluate(k)
        return (
            k + 1,
            ok,
            jnp.where(ok, fraction, 0.0),
            jnp.where(ok, step_kl, 0.0),
            jnp.where(ok, improvement, 0.0),
        )

    zero = jnp.zeros((), flat.dtype)
    _, accepted, fraction, step_kl, improvement = jax.lax.while_loop(
        cond, body, (jnp.zeros((), jnp.int32), jnp.zeros((), bool), zero, zero, zero)
    )
    new_flat = jnp.where(accepted, flat + fraction * full_step, flat)  # rejected: unchanged
    return unravel(new_flat), TrustRegionInfo(accepted, fraction, step_kl, improvement, expected)
