"""Minibatch epochs against a plain Python loop, and joint training of two parameter sets."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from harlax.algos.minibatch import (
    joint_minibatch_epochs,
    minibatch_epochs,
    permutation_rounds,
    random_permutation,
    split_minibatches,
)

K, N, D, EPOCHS, M = 2, 12, 3, 3, 4


def regression(key):
    """A batch `{x [K, 1, N, D], y [K, 1, N]}` and a squared-error loss of weights `[D]`."""
    kx, ky = jax.random.split(key)
    batch = {"x": jax.random.normal(kx, (K, 1, N, D)), "y": jax.random.normal(ky, (K, 1, N))}

    def loss(w, mb):
        error = mb["x"] @ w - mb["y"]
        return jnp.mean(error**2), {"max_error": jnp.max(jnp.abs(error))}

    return batch, loss


def numpy_permutation(key, n: int) -> np.ndarray:
    """The order `random_permutation` must give, by a plain loop: in each round the
    positions are sorted by (the round's random bits above the index bits, the position),
    and the rounds compose."""
    index_bits, rounds = permutation_rounds(n)
    order = list(range(n))
    for round_key in jax.random.split(key, rounds):
        bits = np.asarray(jax.random.bits(round_key, (n,), jnp.uint32))
        random = [int(b) % 2 ** (32 - index_bits) for b in bits]  # what survives the shift
        ranked = sorted(range(n), key=lambda i: (random[i], i))
        order = [order[i] for i in ranked]
    return np.asarray(order)


def test_random_permutation_equals_a_loop_over_rounds():
    for seed, n in [(0, 1), (1, 7), (2, 100), (3, 8192)]:
        key = jax.random.PRNGKey(seed)
        order = np.asarray(jax.jit(random_permutation, static_argnums=1)(key, n))
        np.testing.assert_array_equal(np.sort(order), np.arange(n))
        np.testing.assert_array_equal(order, numpy_permutation(key, n))


def test_permutation_rounds_give_three_log2_n_random_bits():
    for n in [2, 7, 2048, 6144, 8192, 32768, 1 << 20]:
        index_bits, rounds = permutation_rounds(n)
        assert 2 ** (index_bits - 1) < n <= 2**index_bits
        assert rounds * (32 - index_bits) >= 3 * np.log2(n)
        assert (rounds - 1) * (32 - index_bits) < 3 * np.log2(n)
    assert permutation_rounds(2048) == (11, 2)
    with pytest.raises(ValueError, match="2\\^28"):
        permutation_rounds((1 << 28) + 1)


def test_random_permutation_is_uniform_over_all_orders():
    """All 24 orders of 4 items, each about 1/24 of 24,000 draws (binomial sd about 31)."""
    keys = jax.random.split(jax.random.PRNGKey(5), 24_000)
    orders = np.asarray(jax.vmap(lambda k: random_permutation(k, 4))(keys))
    _, counts = np.unique(orders, axis=0, return_counts=True)
    assert len(counts) == 24
    assert counts.min() > 1000 - 150 and counts.max() < 1000 + 150


def test_minibatch_epochs_equals_a_python_loop():
    batch, loss = regression(jax.random.PRNGKey(0))
    tx = optax.sgd(0.1)
    w0 = jnp.zeros(D)
    key = jax.random.PRNGKey(1)
    w, _, metrics = jax.jit(
        lambda w: minibatch_epochs(key, w, tx.init(w), batch, loss, tx, EPOCHS, M)
    )(w0)

    ref, losses = np.zeros(D), []
    for epoch_key in jax.random.split(key, EPOCHS):
        order = numpy_permutation(epoch_key, N)
        for part in np.split(order, M):
            mb = {k: v[:, :, part] for k, v in batch.items()}
            value, grad = jax.value_and_grad(lambda w, mb=mb: loss(w, mb)[0])(jnp.asarray(ref))
            ref = ref - 0.1 * np.asarray(grad)
            losses.append(float(value))
    np.testing.assert_allclose(w, ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(metrics["loss"], np.mean(losses), rtol=1e-5)
    assert not np.allclose(w, 0.0)


def test_one_minibatch_is_the_whole_batch_in_order():
    """With M = 1 nothing is shuffled, and the epochs equal full-batch gradient steps."""
    batch, loss = regression(jax.random.PRNGKey(6))
    split = split_minibatches(jax.random.PRNGKey(7), batch, 1)
    for name in batch:
        np.testing.assert_array_equal(split[name], batch[name][None])
    tx, w0 = optax.sgd(0.1), jnp.zeros(D)
    w, _, _ = minibatch_epochs(jax.random.PRNGKey(8), w0, tx.init(w0), batch, loss, tx, EPOCHS, 1)
    ref = np.zeros(D)
    for _ in range(EPOCHS):
        ref = ref - 0.1 * np.asarray(jax.grad(lambda w: loss(w, batch)[0])(jnp.asarray(ref)))
    np.testing.assert_allclose(w, ref, rtol=1e-5, atol=1e-6)
    assert not np.allclose(w, 0.0)


def test_joint_training_equals_separate_training_on_the_same_shuffle():
    """Two sets trained side by side (one shuffle) end where each would alone with the
    same key: their losses and optimisers never mix."""
    batch_a, loss_a = regression(jax.random.PRNGKey(2))
    batch_b, loss_b = regression(jax.random.PRNGKey(3))
    tx_a, tx_b = optax.adam(0.05), optax.sgd(0.2)
    wa, wb = jnp.ones(D), -jnp.ones(D)
    key = jax.random.PRNGKey(4)
    (ja, jb), _, (ma, mb) = joint_minibatch_epochs(
        key,
        (wa, wb),
        (tx_a.init(wa), tx_b.init(wb)),
        (batch_a, batch_b),
        (loss_a, loss_b),
        (tx_a, tx_b),
        EPOCHS,
        M,
    )
    sa, _, ref_ma = minibatch_epochs(key, wa, tx_a.init(wa), batch_a, loss_a, tx_a, EPOCHS, M)
    sb, _, ref_mb = minibatch_epochs(key, wb, tx_b.init(wb), batch_b, loss_b, tx_b, EPOCHS, M)
    np.testing.assert_allclose(ja, sa, rtol=1e-6)
    np.testing.assert_allclose(jb, sb, rtol=1e-6)
    np.testing.assert_allclose(ma["max_error"], ref_ma["max_error"], rtol=1e-6)
    np.testing.assert_allclose(mb["loss"], ref_mb["loss"], rtol=1e-6)
