"""trust_region.py against dense references: the explicit Fisher matrix (jax.hessian of the
KL) for the Gauss-Newton products, a dense solve, the KL bound after a step, and the
rejection of a bad step."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

from harlax.distributions import CategoricalHead, GaussianHead
from harlax.trust_region import conjugate_gradient, fisher_vector_product, trust_region_step

OBS, ACTIONS, SAMPLES = 3, 4, 32
MASK = jnp.array([True, True, True, False])  # one padded action / dimension


def tiny_policy(discrete: bool):
    """A policy `obs [N, 3] -> out [N, U or 2U]`, nonlinear in its parameters (12-16
    numbers), so that the KL's Hessian has a term the Gauss-Newton product leaves out."""
    head = CategoricalHead() if discrete else GaussianHead()
    key = jax.random.PRNGKey(0)
    params = {"w": 0.5 * jax.random.normal(key, (OBS, ACTIONS)), "b": jnp.zeros(ACTIONS)}
    if not discrete:
        params["log_std"] = jnp.full(ACTIONS, -0.3)

    def out(p, obs):
        mean = 2.0 * jnp.tanh(obs @ p["w"]) + p["b"]
        if discrete:
            return mean
        return jnp.concatenate([mean, jnp.broadcast_to(p["log_std"], mean.shape)], -1)

    return head, params, out


def make_problem(discrete: bool, seed: int):
    """A random batch as HATRPO builds it: `(params, outputs_fn, surrogate_of, kl_of)`.

    `outputs_fn(p)` is `(policy outputs [N, U or 2U], the flat parameters)`, so that tests
    can add parameter-space terms to the surrogate or the KL."""
    head, params, out = tiny_policy(discrete)
    k_obs, k_act, k_adv = jax.random.split(jax.random.PRNGKey(seed), 3)  # seed may be traced
    obs = jax.random.normal(k_obs, (SAMPLES, OBS))
    old_out = out(params, obs)
    action = head.sample(k_act, old_out, MASK)
    old_log_prob = head.log_prob(old_out, MASK, action)
    advantage = jax.random.normal(k_adv, (SAMPLES,))

    def outputs_fn(p):
        return out(p, obs), ravel_pytree(p)[0]

    def surrogate_of(outputs):
        ratio = jnp.exp(head.log_prob(outputs[0], MASK, action) - old_log_prob)
        return jnp.mean(ratio * advantage)

    def kl_of(outputs):
        return jnp.mean(head.kl(old_out, outputs[0], MASK))

    return params, outputs_fn, surrogate_of, kl_of


def step(params, outputs_fn, surrogate_of, kl_of, max_kl, accept_ratio=0.5):
    """`trust_region_step` at HARL's settings: 10 CG iterations, damping 0.1, 10 tries."""
    return trust_region_step(
        params, outputs_fn, surrogate_of, kl_of, max_kl, 10, 0.1, 10, accept_ratio, 0.8
    )


@pytest.mark.parametrize("discrete", [True, False])
def test_fisher_vector_product_is_the_explicit_hessian_times_v(discrete):
    """The Gauss-Newton product equals the full Hessian of the KL (jax.hessian) at the
    old parameters."""
    params, outputs_fn, _, kl_of = make_problem(discrete, seed=1)
    flat, unravel = ravel_pytree(params)
    outputs = lambda f: outputs_fn(unravel(f))
    hessian = jax.jit(jax.hessian(lambda f: kl_of(outputs(f))))(flat)
    v = jax.random.normal(jax.random.PRNGKey(2), flat.shape)
    fvp = jax.jit(fisher_vector_product(outputs, kl_of, flat, 0.1))
    np.testing.assert_allclose(fvp(v), hessian @ v + 0.1 * v, rtol=1e-4, atol=1e-6)
    # The KL's Hessian at the old parameters is positive semi-definite (a Fisher matrix).
    assert np.linalg.eigvalsh(np.asarray(hessian)).min() > -1e-5


def test_fisher_vector_product_is_not_the_hessian_away_from_the_old_parameters():
    """Where the KL's output gradient is not zero the Gauss-Newton product drops a term:
    the equality above is a property of the old parameters, not of the construction."""
    params, outputs_fn, _, kl_of = make_problem(True, seed=1)
    flat, unravel = ravel_pytree(params)
    moved = flat + 0.5 * jax.random.normal(jax.random.PRNGKey(3), flat.shape)
    outputs = lambda f: outputs_fn(unravel(f))
    hessian = jax.hessian(lambda f: kl_of(outputs(f)))(moved)
    v = jax.random.normal(jax.random.PRNGKey(2), flat.shape)
    gauss_newton = fisher_vector_product(outputs, kl_of, moved, 0.0)(v)
    assert float(jnp.max(jnp.abs(gauss_newton - hessian @ v))) > 1e-3


@pytest.mark.parametrize("discrete", [True, False])
def test_conjugate_gradient_matches_dense_solve_of_fisher(discrete):
    params, outputs_fn, surrogate_of, kl_of = make_problem(discrete, seed=3)
    flat, unravel = ravel_pytree(params)
    outputs = lambda f: outputs_fn(unravel(f))
    damping = 0.1
    fisher = np.asarray(jax.jit(jax.hessian(lambda f: kl_of(outputs(f))))(flat), np.float64)
    fisher += damping * np.eye(flat.size)
    grad = jax.grad(lambda f: surrogate_of(outputs(f)))(flat)
    dense = np.linalg.solve(fisher, np.asarray(grad, np.float64))
    # CG is exact after as many iterations as there are parameters (16 here at most).
    fvp = fisher_vector_product(outputs, kl_of, flat, damping)
    x = jax.jit(lambda g: conjugate_gradient(fvp, g, 3 * flat.size))(grad)
    np.testing.assert_allclose(x, dense, rtol=2e-3, atol=2e-4 * np.abs(dense).max())


@pytest.mark.parametrize("discrete", [True, False])
def test_step_keeps_mean_kl_within_the_bound(discrete):
    seeds = jnp.arange(8)
    max_kls = jnp.array([0.01, 0.05] * 4)

    def run(seed, max_kl):
        params, outputs_fn, surrogate_of, kl_of = make_problem(discrete, seed)
        new, info, new_out = step(params, outputs_fn, surrogate_of, kl_of, max_kl)
        measured = kl_of(outputs_fn(new))
        gain = surrogate_of(outputs_fn(new)) - surrogate_of(outputs_fn(params))
        out_error = jnp.max(jnp.abs(new_out[0] - outputs_fn(new)[0]))
        return info, measured, gain, out_error

    # One compiled program for all random batches and both bounds.
    info, measured, gain, out_error = jax.jit(jax.vmap(run))(seeds, max_kls)
    assert np.all(info.accepted), "random problems should accept a step"
    assert np.all(measured <= max_kls * (1 + 1e-3) + 1e-7)
    assert np.all(measured > 0.05 * max_kls)  # it did move
    np.testing.assert_allclose(measured, info.kl, rtol=1e-4, atol=1e-8)
    assert np.all(gain > 0)
    np.testing.assert_allclose(gain, info.improvement, rtol=1e-3, atol=1e-7)
    np.testing.assert_array_less(out_error, 1e-6)  # the returned outputs are the new policy's


@pytest.mark.parametrize("discrete", [True, False])
def test_step_that_would_decrease_the_surrogate_is_rejected(discrete):
    params, outputs_fn, surrogate_of, kl_of = make_problem(discrete, seed=5)
    flat0, _ = ravel_pytree(params)
    # Same gradient at the old parameters, but any step of the line search loses value.
    cliff = lambda out: surrogate_of(out) - 1e4 * jnp.sum((out[1] - flat0) ** 2)
    new, info, new_out = jax.jit(lambda p: step(p, outputs_fn, cliff, kl_of, 0.01))(params)
    assert not bool(info.accepted)
    assert float(info.fraction) == 0.0
    for a, b in zip(jax.tree.leaves(new), jax.tree.leaves(params), strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(new_out[1], flat0)


def test_line_search_backtracks_until_the_kl_bound_holds():
    """A KL that is 100x steeper away from the quadratic model forces fractions < 1."""
    params, outputs_fn, surrogate_of, kl_of = make_problem(True, seed=6)
    flat0, _ = ravel_pytree(params)
    steep = lambda out: kl_of(out) + 50.0 * jnp.sum((out[1] - flat0) ** 4)
    new, info, _ = jax.jit(
        lambda p: step(p, outputs_fn, surrogate_of, steep, 0.01, accept_ratio=0.0)
    )(params)
    fraction = float(info.fraction)
    assert bool(info.accepted) and fraction < 1.0
    # The taken fraction is a power of the backtracking coefficient.
    k = np.log(fraction) / np.log(0.8)
    np.testing.assert_allclose(k, np.round(k), atol=1e-4)
    assert float(steep(outputs_fn(new))) <= 0.01 * (1 + 1e-4)


def test_exact_kl_of_masked_heads_matches_closed_form():
    rng = np.random.default_rng(0)
    old, new = rng.normal(size=(2, 5, ACTIONS))
    mask = np.asarray(MASK)
    p = np.exp(old[:, :3]) / np.exp(old[:, :3]).sum(-1, keepdims=True)
    q = np.exp(new[:, :3]) / np.exp(new[:, :3]).sum(-1, keepdims=True)
    np.testing.assert_allclose(
        CategoricalHead().kl(old, new, mask), (p * np.log(p / q)).sum(-1), rtol=1e-5
    )
    out_old, out_new = rng.normal(size=(2, 5, 2 * ACTIONS))
    m0, s0 = out_old[:, :ACTIONS], np.exp(out_old[:, ACTIONS:])
    m1, s1 = out_new[:, :ACTIONS], np.exp(out_new[:, ACTIONS:])
    per_dim = np.log(s1 / s0) + (s0**2 + (m0 - m1) ** 2) / (2 * s1**2) - 0.5
    np.testing.assert_allclose(
        GaussianHead().kl(out_old, out_new, mask), (per_dim * mask).sum(-1), rtol=1e-5
    )
