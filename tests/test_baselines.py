"""Baselines of harlax.baselines against independent references (numpy loops, brute
force over a grid of baselines, exact gradients, numerical integration)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from harlax import baselines
from harlax.envs.matrix import OB_TOY_POLICY, OB_TOY_Q, expected_payoff

SETTINGS = settings(derandomize=True, max_examples=25, deadline=None)
KINDS = ("ob", "coma", "none")


def ref_variance(p: np.ndarray, q: np.ndarray, b):
    """Trace of the covariance of (e_a - pi)(q_a - b) over a ~ pi, by a loop over actions
    (b may be an array of baselines)."""
    b = np.asarray(b, np.float64)[..., None]
    u = len(p)
    grads = [(np.eye(u)[a] - p) * (q[a] - b) for a in range(u)]
    mean = sum(p[a] * grads[a] for a in range(u))
    return sum(p[a] * np.sum((grads[a] - mean) ** 2, axis=-1) for a in range(u))


def softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max())
    return e / e.sum()


policy_and_q = st.integers(2, 5).flatmap(
    lambda u: st.tuples(
        arrays(np.float64, u, elements=st.floats(-3.0, 3.0)),
        arrays(np.float64, u, elements=st.floats(-10.0, 10.0)),
    )
)


@SETTINGS
@given(policy_and_q)
def test_ob_is_the_brute_force_variance_minimiser(case):
    logits, q = case
    p = softmax(logits)
    ob = float(baselines.discrete_baseline("ob", jnp.asarray(p, jnp.float32), jnp.asarray(q)))
    grid = np.linspace(q.min() - 1.0, q.max() + 1.0, 4001)
    variances = ref_variance(p, q, grid)
    step = grid[1] - grid[0]
    assert abs(ob - grid[np.argmin(variances)]) <= step + 1e-3
    scale = 1.0 + variances.min()
    assert ref_variance(p, q, ob) <= variances.min() + 1e-4 * scale
    for kind in ("coma", "none"):
        other = float(baselines.discrete_baseline(kind, jnp.asarray(p), jnp.asarray(q)))
        assert ref_variance(p, q, ob) <= ref_variance(p, q, other) + 1e-4 * scale


@SETTINGS
@given(policy_and_q, st.floats(-10.0, 10.0))
def test_exact_variance_matches_loop(case, b):
    logits, q = case
    p = softmax(logits)
    got = baselines.softmax_pg_variance(jnp.asarray(p), jnp.asarray(q), jnp.asarray(b))
    expected = ref_variance(p, q, b)
    assert float(got) == pytest.approx(float(expected), rel=1e-4, abs=1e-3)


@SETTINGS
@given(arrays(np.float64, 3, elements=st.floats(-3.0, 3.0)))
def test_ob_weights_match_the_paper_formula(logits):
    p = softmax(logits)
    norm2 = np.sum(p**2)
    x = p * (1 + norm2 - 2 * p) / (1 - norm2)
    got = baselines.softmax_ob_weights(jnp.asarray(p, jnp.float32))
    np.testing.assert_allclose(got, x, rtol=1e-4, atol=1e-6)


two_agent_game = st.tuples(
    arrays(np.float64, 3, elements=st.floats(-2.0, 2.0)),
    arrays(np.float64, 2, elements=st.floats(-2.0, 2.0)),
    arrays(np.float64, (3, 2), elements=st.floats(-5.0, 5.0)),
)


@SETTINGS
@given(two_agent_game)
def test_every_baseline_is_unbiased(game):
    """E over all joint actions of (e_a0 - pi0)(Q(a0, a1) - b(a1)) equals the exact
    gradient of the expected payoff with respect to agent 0's logits."""
    logits0, logits1, payoff = game
    p0, p1 = softmax(logits0), softmax(logits1)
    exact = jax.grad(
        lambda l0: expected_payoff(
            jnp.asarray(payoff, jnp.float32),
            [jax.nn.softmax(l0), jnp.asarray(p1, jnp.float32)],
        )
    )(jnp.asarray(logits0, jnp.float32))
    for kind in KINDS:
        estimate = np.zeros(3)
        for a1 in range(2):
            q = payoff[:, a1]  # Q(s, a^{-0} = a1, .) for every own action
            b = float(baselines.discrete_baseline(kind, jnp.asarray(p0), jnp.asarray(q)))
            for a0 in range(3):
                estimate += p0[a0] * p1[a1] * (np.eye(3)[a0] - p0) * (q[a0] - b)
        np.testing.assert_allclose(estimate, exact, rtol=1e-4, atol=1e-4)


def test_gaussian_score_is_the_gradient_of_the_log_density():
    mean = jnp.array([0.3, -1.0, 0.0])
    std = jnp.array([0.7, 1.5, 1.0])
    action = jnp.array([1.1, -0.2, 5.0])
    mask = jnp.array([True, True, False])

    def log_density(mean, std):
        per_dim = jax.scipy.stats.norm.logpdf(action, mean, std)
        return jnp.sum(jnp.where(mask, per_dim, 0.0))

    g_mean, g_std = jax.grad(log_density, argnums=(0, 1))(mean, std)
    expected = jnp.sum(g_mean**2) + jnp.sum(g_std**2)
    got = baselines.gaussian_score_sq_norm(mean, std, action, mask)
    assert float(got) == pytest.approx(float(expected), rel=1e-5)


def _integrated_baseline(mean, std, q_fn, kind, n=1201):
    """b by numerical integration on a product grid over +-10 std (numpy, float64)."""
    axes = [np.linspace(m - 10 * s, m + 10 * s, n) for m, s in zip(mean, std, strict=True)]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1)  # [n, ..., d]
    z2 = ((grid - mean) / std) ** 2
    density = np.exp(-0.5 * np.sum(z2, axis=-1))
    weight = np.sum((z2 + (z2 - 1) ** 2) / std**2, axis=-1) if kind == "ob" else 1.0
    q = q_fn(grid)
    return float(np.sum(density * weight * q) / np.sum(density * weight))


def _q_1d(a, xp):
    return xp.sin(2 * a[..., 0]) + 0.5 * a[..., 0] ** 2


def _q_2d(a, xp):
    return a[..., 0] * a[..., 1] + xp.cos(a[..., 0]) + 0.3 * a[..., 1]


@pytest.mark.parametrize("kind", ["ob", "coma"])
@pytest.mark.parametrize("dims", [1, 2])
def test_gaussian_baseline_converges_to_numerical_integration(kind, dims):
    if dims == 1:
        mean, std, q_fn = np.array([0.3]), np.array([0.7]), _q_1d
    else:
        mean, std, q_fn = np.array([0.2, -0.4]), np.array([0.5, 1.2]), _q_2d
    exact = _integrated_baseline(
        mean, std, lambda a: q_fn(a, np), kind, n=20001 if dims == 1 else 801
    )
    # A padded last dimension (mask False) must not change anything.
    pad = lambda x, v: jnp.asarray(np.concatenate([x, [v]]), jnp.float32)
    mask = jnp.arange(dims + 1) < dims

    def error(k, seed):
        b = baselines.gaussian_baseline(
            kind,
            jax.random.PRNGKey(seed),
            pad(mean, 3.0),
            pad(std, 2.0),
            mask,
            lambda a: q_fn(a, jnp),
            k,
        ).value
        return abs(float(b) - exact)

    errors = {k: np.mean([error(k, s) for s in range(4)]) for k in (100, 10_000, 1_000_000)}
    assert errors[1_000_000] < errors[10_000] < errors[100]
    assert errors[1_000_000] < 0.015


@pytest.mark.parametrize(
    "logits",
    [[50.0, 0.0, 0.0], [100.0, -100.0, 0.0], [30.0, 29.0, -80.0], [1e4, 0.0, 0.0]],
)
def test_near_deterministic_policies_give_finite_baselines(logits):
    probs = jax.nn.softmax(jnp.asarray(logits, jnp.float32))
    q = jnp.array([2.0, -1.0, 100.0])
    for kind in KINDS:
        b = baselines.discrete_baseline(kind, probs, q)
        assert np.isfinite(float(b))
        assert float(q.min()) - 1e-3 <= float(b) <= float(q.max()) + 1e-3
    weights = baselines.softmax_ob_weights(probs)
    assert np.all(np.isfinite(weights)) and float(jnp.sum(weights)) == pytest.approx(1.0)


def test_masked_actions_get_no_weight():
    probs = jnp.array([0.5, 0.0, 0.5])
    q = jnp.array([1.0, 1e6, 3.0])
    for kind in ("ob", "coma"):
        assert float(baselines.discrete_baseline(kind, probs, q)) == pytest.approx(2.0)


def test_ob_toy_example_reduces_variance_by_half_and_a_third():
    """Kuba et al. (NeurIPS 2021): policy (0.8, 0.1, 0.1), Q (2, 1, 100)."""
    p, q = jnp.asarray(OB_TOY_POLICY), jnp.asarray(OB_TOY_Q)
    var = {
        k: float(baselines.softmax_pg_variance(p, q, baselines.discrete_baseline(k, p, q)))
        for k in KINDS
    }
    for k in KINDS:
        b = float(baselines.discrete_baseline(k, p, q))
        assert var[k] == pytest.approx(ref_variance(OB_TOY_POLICY, OB_TOY_Q, b), rel=1e-5)
    assert 0.45 < var["ob"] / var["none"] < 0.55
    assert 0.6 < var["ob"] / var["coma"] < 0.7


def test_jit_and_batching_agree_with_single_calls():
    key = jax.random.PRNGKey(0)
    probs = jax.nn.softmax(jax.random.normal(key, (4, 5)), axis=-1)
    q = jax.random.normal(jax.random.fold_in(key, 1), (4, 5))
    for kind in KINDS:
        batched = jax.jit(baselines.discrete_baseline, static_argnums=0)(kind, probs, q)
        single = [baselines.discrete_baseline(kind, probs[i], q[i]) for i in range(4)]
        np.testing.assert_allclose(batched, np.stack(single), rtol=1e-6, atol=1e-6)


def test_effective_sample_size_of_the_gaussian_ob_weights():
    """Kish's ESS against its plain formula, uniform COMA weights give K, and the OB
    weights of one action dimension give `(E w)^2 / E w^2 = 9 / 83` of K: for
    `w = z^2 + (z^2 - 1)^2`, E w = 3 and E w^2 = E[z^8 - 2 z^6 + 3 z^4 - 2 z^2 + 1] = 83."""
    w = np.array([[1.0, 2.0], [3.0, 0.5], [0.0, 4.0]])
    expected = w.sum(0) ** 2 / (w**2).sum(0)
    np.testing.assert_allclose(baselines.effective_sample_size(jnp.asarray(w)), expected)
    args = (jnp.array([0.3]), jnp.array([0.7]), jnp.array([True]), lambda a: a[..., 0])
    k = 400_000
    key = jax.random.PRNGKey(0)
    coma = baselines.gaussian_baseline("coma", key, *args[:3], args[3], k)
    assert float(coma.ess) == k
    ob = baselines.gaussian_baseline("ob", key, *args[:3], args[3], k)
    assert float(ob.ess) / k == pytest.approx(9 / 83, rel=0.03)
