"""trust_region.py against dense references: the explicit Fisher matrix (jax.hessian of the
KL), a dense solve, the KL bound after a step, and the rejection of a bad step."""

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
    """A linear policy `obs [N, 3] -> out [N, U or 2U]` and its parameters (12-16 numbers)."""
    head = CategoricalHead() if discrete else GaussianHead()
    key = jax.random.PRNGKey(0)
    params = {"w": 0.5 * jax.random.normal(key, (OBS, ACTIONS)), "b": jnp.zeros(ACTIONS)}
    if not discrete:
        params["log_std"] = jnp.full(ACTIONS, -0.3)

    def out(p, obs):
        mean = obs @ p["w"] + p["b"]
        if discrete:
            return mean
        return jnp.concatenate([mean, jnp.broadcast_to(p["log_std"], mean.shape)], -1)

    return head, params, out


def make_problem(discrete: bool, seed: int):
    """Surrogate and mean-KL functions of a random batch, as HATRPO builds them."""
    head, params, out = tiny_policy(discrete)
    k_obs, k_act, k_adv = jax.random.split(jax.random.PRNGKey(seed), 3)  # seed may be traced
    obs = jax.random.normal(k_obs, (SAMPLES, OBS))
    old_out = out(params, obs)
    action = head.sample(k_act, old_out, MASK)
    old_log_prob = head.log_prob(old_out, MASK, action)
    advantage = jax.random.normal(k_adv, (SAMPLES,))

    def surrogate(p):
        ratio = jnp.exp(head.log_prob(out(p, obs), MASK, action) - old_log_prob)
        return jnp.mean(ratio * advantage)

    def mean_kl(p):
        return jnp.mean(head.kl(old_out, out(p, obs), MASK))

    return params, surrogate, mean_kl


@pytest.mark.parametrize("discrete", [True, False])
def test_fisher_vector_product_is_the_explicit_hessian_times_v(discrete):
    params, _, mean_kl = make_problem(discrete, seed=1)
    flat, unravel = ravel_pytree(params)
    kl = lambda f: mean_kl(unravel(f))
    hessian = jax.jit(jax.hessian(kl))(flat)
    v = jax.random.normal(jax.random.PRNGKey(2), flat.shape)
    fvp = jax.jit(fisher_vector_product(kl, flat, 0.1))
    np.testing.assert_allclose(fvp(v), hessian @ v + 0.1 * v, rtol=1e-4, atol=1e-6)
    # The KL's Hessian at the old parameters is positive semi-definite (a Fisher matrix).
    assert np.linalg.eigvalsh(np.asarray(hessian)).min() > -1e-5


@pytest.mark.parametrize("discrete", [True, False])
def test_conjugate_gradient_matches_dense_solve_of_fisher(discrete):
    params, surrogate, mean_kl = make_problem(discrete, seed=3)
    flat, unravel = ravel_pytree(params)
    kl = lambda f: mean_kl(unravel(f))
    damping = 0.1
    fisher = np.asarray(jax.jit(jax.hessian(kl))(flat), np.float64) + damping * np.eye(flat.size)
    grad = jax.grad(lambda f: surrogate(unravel(f)))(flat)
    dense = np.linalg.solve(fisher, np.asarray(grad, np.float64))
    # CG is exact after as many iterations as there are parameters (16 here at most).
    x = jax.jit(
        lambda g: conjugate_gradient(fisher_vector_product(kl, flat, damping), g, 3 * flat.size)
    )(grad)
    np.testing.assert_allclose(x, dense, rtol=2e-3, atol=2e-4 * np.abs(dense).max())


@pytest.mark.parametrize("discrete", [True, False])
def test_step_keeps_mean_kl_within_the_bound(discrete):
    seeds = jnp.arange(8)
    max_kls = jnp.array([0.01, 0.05] * 4)

    def run(seed, max_kl):
        params, surrogate, mean_kl = make_problem(discrete, seed)
        new, info = trust_region_step(params, surrogate, mean_kl, max_kl, 10, 0.1, 10, 0.5, 0.8)
        return info, mean_kl(new), surrogate(new) - surrogate(params)

    # One compiled program for all random batches and both bounds.
    info, measured, gain = jax.jit(jax.vmap(run))(seeds, max_kls)
    assert np.all(info.accepted), "random problems should accept a step"
    assert np.all(measured <= max_kls * (1 + 1e-3) + 1e-7)
    assert np.all(measured > 0.05 * max_kls)  # it did move
    np.testing.assert_allclose(measured, info.kl, rtol=1e-4, atol=1e-8)
    assert np.all(gain > 0)
    np.testing.assert_allclose(gain, info.improvement, rtol=1e-3, atol=1e-7)


@pytest.mark.parametrize("discrete", [True, False])
def test_step_that_would_decrease_the_surrogate_is_rejected(discrete):
    params, surrogate, mean_kl = make_problem(discrete, seed=5)
    flat0, unravel = ravel_pytree(params)
    # Same gradient at the old parameters, but any step of the line search loses value.
    cliff = lambda p: surrogate(p) - 1e4 * jnp.sum((ravel_pytree(p)[0] - flat0) ** 2)
    new, info = jax.jit(
        lambda p: trust_region_step(p, cliff, mean_kl, 0.01, 10, 0.1, 10, 0.5, 0.8)
    )(params)
    assert not bool(info.accepted)
    assert float(info.fraction) == 0.0
    for a, b in zip(jax.tree.leaves(new), jax.tree.leaves(params), strict=True):
        np.testing.assert_array_equal(a, b)


def test_line_search_backtracks_until_the_kl_bound_holds():
    """A KL that is 100x steeper away from the quadratic model forces fractions < 1."""
    params, surrogate, mean_kl = make_problem(True, seed=6)
    flat0, _ = ravel_pytree(params)
    steep = lambda p: mean_kl(p) + 50.0 * jnp.sum((ravel_pytree(p)[0] - flat0) ** 4)
    new, info = jax.jit(
        lambda p: trust_region_step(p, surrogate, steep, 0.01, 10, 0.1, 10, 0.0, 0.8)
    )(params)
    fraction = float(info.fraction)
    assert bool(info.accepted) and fraction < 1.0
    # The taken fraction is a power of the backtracking coefficient.
    k = np.log(fraction) / np.log(0.8)
    np.testing.assert_allclose(k, np.round(k), atol=1e-4)
    assert float(steep(new)) <= 0.01 * (1 + 1e-4)


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
