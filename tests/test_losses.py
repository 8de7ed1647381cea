"""The pure per-sample losses against their plain formulas, with and without jit."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from harlax.losses import (
    clipped,
    clipped_surrogate,
    clipped_value_loss,
    regression_loss,
    sample_kl,
)


def huber_loop(e: float, delta: float) -> float:
    return 0.5 * e * e if abs(e) <= delta else delta * (abs(e) - delta / 2)


ERRORS = np.array([-25.0, -10.0, -3.0, -0.5, 0.0, 0.2, 4.0, 10.0, 11.0, 40.0], np.float32)


@pytest.mark.parametrize("jit", [False, True])
def test_regression_losses_match_their_formulas(jit):
    fn = jax.jit(regression_loss, static_argnums=(1, 2)) if jit else regression_loss
    np.testing.assert_allclose(fn(ERRORS, "mse", 10.0), 0.5 * ERRORS**2, rtol=1e-6)
    huber = [huber_loop(float(e), 10.0) for e in ERRORS]
    np.testing.assert_allclose(fn(ERRORS, "huber", 10.0), huber, rtol=1e-6)
    with pytest.raises(ValueError, match="huber"):
        regression_loss(ERRORS, "l1", 1.0)


@pytest.mark.parametrize("kind", ["mse", "huber"])
@pytest.mark.parametrize("jit", [False, True])
def test_clipped_value_loss_matches_a_loop(kind, jit):
    rng = np.random.default_rng(0)
    value, target, old = (rng.normal(scale=8.0, size=64).astype(np.float32) for _ in range(3))
    eps, delta = 0.2, 3.0
    fn = jax.jit(clipped_value_loss, static_argnums=(3, 4, 5)) if jit else clipped_value_loss
    got = fn(value, target, old, eps, kind, delta)
    loss = (lambda e: 0.5 * e * e) if kind == "mse" else (lambda e: huber_loop(e, delta))
    expected = []
    for v, t, o in zip(value, target, old, strict=True):
        clipped = o + min(max(v - o, -eps), eps)
        expected.append(max(loss(float(v - t)), loss(float(clipped - t))))
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    np.testing.assert_allclose(
        fn(value, target, old, 0.0, kind, delta),
        [loss(float(v - t)) for v, t in zip(value, target, strict=True)],
        rtol=1e-5,
    )


def surrogate_loop(r: float, a: float, eps: float) -> float:
    """PPO's clipped objective by cases (Schulman et al. 2017, eq. 7)."""
    if a >= 0:
        return min(r, 1 + eps) * a
    return max(r, 1 - eps) * a


@pytest.mark.parametrize("jit", [False, True])
def test_ppo_surrogate_clip_fraction_and_sample_kl_match_their_formulas(jit):
    rng = np.random.default_rng(3)
    log_ratio = rng.normal(0.0, 0.4, 64).astype(np.float32)
    advantage = rng.normal(0.0, 2.0, 64).astype(np.float32)
    eps = 0.2
    wrap = (lambda f, *static: jax.jit(f, static_argnums=static)) if jit else (lambda f, *_: f)
    got = wrap(clipped_surrogate, 2)(log_ratio, advantage, eps)
    ratio = np.exp(log_ratio.astype(np.float64))
    want = [surrogate_loop(r, a, eps) for r, a in zip(ratio, advantage, strict=True)]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    outside = [not (1 - eps <= r <= 1 + eps) for r in ratio]
    np.testing.assert_array_equal(wrap(clipped, 1)(log_ratio, eps), outside)
    kl = wrap(sample_kl)(log_ratio)
    np.testing.assert_allclose(kl, ratio - 1 - np.log(ratio), rtol=1e-4, atol=1e-6)
    assert (np.asarray(kl) >= 0).all()
