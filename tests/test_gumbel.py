"""Gumbel-softmax (distributions.gumbel_softmax): simplex, masking, straight-through."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from harlax.distributions import gumbel_softmax

LOGITS = jnp.array([[0.5, -1.0, 2.0, 0.0], [1.0, 1.0, -3.0, 0.3]])
MASK = jnp.array([[True, True, True, False], [True, True, True, True]])


@pytest.mark.parametrize("temperature", [0.3, 1.0, 5.0])
def test_soft_samples_lie_on_the_simplex_and_respect_the_mask(temperature):
    keys = jax.random.split(jax.random.PRNGKey(0), 200)
    y = jax.vmap(lambda k: gumbel_softmax(k, LOGITS, MASK, temperature))(keys)
    assert y.shape == (200, 2, 4)
    assert np.all(np.asarray(y) >= 0.0)
    np.testing.assert_allclose(np.asarray(y.sum(-1)), 1.0, atol=1e-5)
    assert np.all(np.asarray(y[:, 0, 3]) == 0.0)  # masked action never gets mass
    # Not one-hot: the relaxed sample is strictly inside the simplex somewhere.
    assert np.min(np.max(np.asarray(y), axis=-1)) < 1.0


def test_argmax_frequencies_follow_the_softmax():
    """Gumbel-max: argmax of the sample is distributed as softmax(logits) (masked)."""
    keys = jax.random.split(jax.random.PRNGKey(1), 20000)
    y = jax.jit(jax.vmap(lambda k: gumbel_softmax(k, LOGITS, MASK, 1.0)))(keys)
    counts = np.stack([np.bincount(np.asarray(y[:, r].argmax(-1)), minlength=4) for r in (0, 1)])
    logits = np.where(np.asarray(MASK), np.asarray(LOGITS), -np.inf)
    probs = np.exp(logits - logits.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    np.testing.assert_allclose(counts / 20000, probs, atol=0.015)


def test_straight_through_is_one_hot_forward_with_nonzero_gradient():
    key = jax.random.PRNGKey(2)
    weights = jnp.array([1.0, -2.0, 0.5, 3.0])

    def objective(logits):
        return jnp.sum(gumbel_softmax(key, logits, MASK, 0.7, hard=True) * weights)

    hard = gumbel_softmax(key, LOGITS, MASK, 0.7, hard=True)
    soft = gumbel_softmax(key, LOGITS, MASK, 0.7, hard=False)
    values = np.asarray(hard)
    assert set(np.unique(values)) <= {0.0, 1.0}
    np.testing.assert_array_equal(values.sum(-1), 1.0)
    np.testing.assert_array_equal(values.argmax(-1), np.asarray(soft).argmax(-1))
    grad = np.asarray(jax.grad(objective)(LOGITS))
    assert np.all(np.isfinite(grad)) and np.abs(grad[:, :3]).sum(-1).min() > 1e-4
    # The gradient is the soft sample's gradient (straight-through estimator).
    soft_grad = jax.grad(lambda lg: jnp.sum(gumbel_softmax(key, lg, MASK, 0.7) * weights))(LOGITS)
    np.testing.assert_allclose(grad, np.asarray(soft_grad), rtol=1e-5, atol=1e-7)
