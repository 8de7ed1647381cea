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


def linearize_outputs(outputs_fn: Callable[[Array], PyTree], flat: Array):
    """`(out, jvp, vjp)` of `outputs_fn` at `flat`: its value, `v -> J v` and `u -> J^T u`,
    from one linearisation (the forward pass runs once; each product is linear only)."""
    out, jvp = jax.linearize(outputs_fn, flat)
    transpose = jax.linear_transpose(jvp, flat)
    return out, jvp, lambda u: transpose(u)[0]


def fisher_vector_product(
    outputs_fn: Callable[[Array], PyTree],
    kl_of: Callable[[PyTree], Array],
    flat: Array,
    damping: float,
    linearized=None,
) -> Callable[[Array], Array]:
    """`v -> (H + damping I) v`, H the Hessian at `flat` of `kl_of(outputs_fn(flat))`, the mean
    KL from the old policy, as the Gauss-Newton product `J^T (d^2 kl_of / d out^2) J v`.

    The two are equal at the old parameters, where the KL's gradient with respect to the
    policy outputs is zero (the KL is minimal there), so the Hessian's other term
    `sum (d kl / d out) (d^2 out / d theta^2)` vanishes; HARL takes the full Hessian by double
    backpropagation. Per product this is one tangent pass and one transposed pass of the
    network through a linearisation made once, instead of differentiating a backward pass.
    `linearized`: `linearize_outputs(outputs_fn, flat)`, if the caller has it already."""
    out, jvp, vjp = linearized or linearize_outputs(outputs_fn, flat)
    grad_kl = jax.grad(kl_of)

    def product(v: Array) -> Array:
        output_curvature = jax.jvp(grad_kl, (out,), (jvp(v),))[1]
        return vjp(output_curvature) + damping * v

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
    outputs_fn: Callable[[PyTree], PyTree],
    surrogate_of: Callable[[PyTree], Array],
    kl_of: Callable[[PyTree], Array],
    max_kl: float,
    cg_iters: int,
    damping: float,
    line_search_steps: int,
    accept_ratio: float,
    backtrack_coef: float,
) -> tuple[PyTree, TrustRegionInfo, PyTree]:
    """Maximise `surrogate_of(outputs_fn(params))` subject to `kl_of(outputs_fn(new)) <= max_kl`.
    Returns `(new_params, info, outputs_fn(new_params))`, the last from the line search.

    `outputs_fn(params)`: the policy's outputs (any pytree; e.g. logits `[K, T, N, U]`).
    `kl_of(out)` must be the mean KL from the fixed old policy to the policy with outputs
    `out` (zero, with zero gradient, at the old outputs). The gradient and the Fisher
    products come from one linearisation of `outputs_fn` at the old parameters
    (`fisher_vector_product`). The full step is `sqrt(2 max_kl / x^T F x) x` with
    `x = CG(F, g)`; the line search tries fractions `backtrack_coef**k`,
    k < line_search_steps, one forward pass each, and takes the first whose KL is within
    the bound and whose improvement is positive and at least `accept_ratio` of the
    expected one. If none is accepted the parameters are returned unchanged.
    """
    flat, unravel = ravel_pytree(params)
    outputs = lambda f: outputs_fn(unravel(f))

    linearized = linearize_outputs(outputs, flat)
    out, _, vjp = linearized
    base, surrogate_grad_out = jax.value_and_grad(surrogate_of)(out)
    grad = vjp(surrogate_grad_out)
    fvp = fisher_vector_product(outputs, kl_of, flat, damping, linearized)
    direction = conjugate_gradient(fvp, grad, cg_iters)
    curvature = jnp.dot(direction, fvp(direction))
    scale = jnp.sqrt(2.0 * max_kl / jnp.maximum(curvature, 1e-12))
    full_step = scale * direction
    full_step = jnp.where(jnp.all(jnp.isfinite(full_step)), full_step, 0.0)  # never NaN
    expected = jnp.dot(grad, full_step)

    def evaluate(k):
        fraction = backtrack_coef ** k.astype(flat.dtype)
        candidate_out = outputs(flat + fraction * full_step)
        improvement = surrogate_of(candidate_out) - base
        step_kl = kl_of(candidate_out)
        ok = (
            (step_kl <= max_kl)
            & (improvement > 0)
            & (improvement >= accept_ratio * expected * fraction)
        )
        return ok, fraction, step_kl, improvement, candidate_out

    def cond(carry):
        k, accepted = carry[0], carry[1]
        return (k < line_search_steps) & ~accepted

    def body(carry):
        k, _, _, _, _, kept_out = carry
        ok, fraction, step_kl, improvement, candidate_out = evaluate(k)
        return (
            k + 1,
            ok,
            jnp.where(ok, fraction, 0.0),
            jnp.where(ok, step_kl, 0.0),
            jnp.where(ok, improvement, 0.0),
            jax.tree.map(lambda c, o: jnp.where(ok, c, o), candidate_out, kept_out),
        )

    zero = jnp.zeros((), flat.dtype)
    _, accepted, fraction, step_kl, improvement, new_out = jax.lax.while_loop(
        cond, body, (jnp.zeros((), jnp.int32), jnp.zeros((), bool), zero, zero, zero, out)
    )
    new_flat = jnp.where(accepted, flat + fraction * full_step, flat)  # rejected: unchanged
    info = TrustRegionInfo(accepted, fraction, step_kl, improvement, expected)
    return unravel(new_flat), info, new_out
