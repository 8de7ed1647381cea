"""The GRU recurrence's hand-written backward pass against autodiff of a plain loop."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from harlax.gru import gru_recurrence

T, N, H = 6, 3, 4


def loop_reference(gates, first, carry, kernel, input_bias, bias):
    """The GRU equations in a Python loop over time (differentiated by JAX autodiff)."""
    outputs = []
    b_r, b_z, b_n = jnp.split(input_bias, 3)
    for t in range(first.shape[0]):
        h = jnp.where(first[t][:, None], 0.0, carry)
        w_r, w_z, w_n = jnp.split(kernel, 3, axis=-1)
        r = jax.nn.sigmoid(gates[0][t] + b_r + h @ w_r)
        z = jax.nn.sigmoid(gates[1][t] + b_z + h @ w_z)
        n = jnp.tanh(gates[2][t] + b_n + r * (h @ w_n + bias))
        carry = (1.0 - z) * n + z * h
        outputs.append(carry)
    return carry, jnp.stack(outputs)


def inputs(key):
    k = jax.random.split(key, 6)
    gates = tuple(jax.random.normal(k[0], (3, T, N, H)))
    first = jax.random.bernoulli(k[1], 0.25, (T, N)).at[0, 0].set(True)
    carry = jax.random.normal(k[2], (N, H))
    kernel = jax.random.normal(k[3], (H, 3 * H)) / np.sqrt(H)
    input_bias = jax.random.normal(k[5], (3 * H,))
    bias = jax.random.normal(k[4], (H,))
    return gates, first, carry, kernel, input_bias, bias


def loss(fn, cot_carry, cot_out):
    """A scalar whose gradient applies random cotangents to both outputs."""

    def scalar(gates, carry, kernel, input_bias, bias, first):
        final, outputs = fn(gates, first, carry, kernel, input_bias, bias)
        return jnp.sum(final * cot_carry) + jnp.sum(outputs * cot_out)

    return scalar


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_values_and_gradients_equal_autodiff_of_a_plain_loop(seed):
    args = inputs(jax.random.PRNGKey(seed))
    gates, first, carry, kernel, input_bias, bias = args
    k1, k2 = jax.random.split(jax.random.PRNGKey(100 + seed))
    cot_carry, cot_out = jax.random.normal(k1, (N, H)), jax.random.normal(k2, (T, N, H))

    ours, ref = gru_recurrence(*args), loop_reference(*args)
    for a, b in zip(ours, ref, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)

    argnums = (0, 1, 2, 3, 4)
    grads = jax.grad(loss(gru_recurrence, cot_carry, cot_out), argnums)(
        gates, carry, kernel, input_bias, bias, first
    )
    ref_grads = jax.grad(loss(loop_reference, cot_carry, cot_out), argnums)(
        gates, carry, kernel, input_bias, bias, first
    )
    names = ("x_r", "x_z", "x_n", "carry", "kernel", "input_bias", "bias")
    leaves = zip(names, jax.tree.leaves(grads), jax.tree.leaves(ref_grads), strict=True)
    for name, g, r in leaves:
        np.testing.assert_allclose(g, r, rtol=1e-4, atol=1e-5, err_msg=name)
        assert np.any(np.abs(r) > 1e-3), name  # the comparison is not trivially of zeros


def test_a_reset_cuts_the_gradient_to_earlier_steps():
    gates, first, carry, kernel, input_bias, bias = inputs(jax.random.PRNGKey(5))
    first = jnp.zeros((T, N), bool).at[3].set(True)

    def last_output(gates, carry):
        return jnp.sum(gru_recurrence(gates, first, carry, kernel, input_bias, bias)[1][-1])

    d_gates, d_carry = jax.grad(last_output, (0, 1))(gates, carry)
    np.testing.assert_array_equal(d_carry, 0.0)
    for d_gate in d_gates:
        np.testing.assert_array_equal(d_gate[:3], 0.0)
        assert np.all(np.abs(d_gate[3:]).sum(axis=-1) > 0)


def test_gradients_under_vmap_equal_per_example_gradients():
    """Seeds and stacked agents run the recurrence under vmap."""
    batch = [inputs(jax.random.PRNGKey(10 + i)) for i in range(3)]
    stacked = jax.tree.map(lambda *x: jnp.stack(x), *batch)
    cot_carry, cot_out = jnp.ones((N, H)), jnp.ones((T, N, H))
    grad_fn = jax.grad(loss(gru_recurrence, cot_carry, cot_out), (0, 1, 2, 3, 4))
    gates, first, carry, kernel, input_bias, bias = stacked
    vmapped = jax.vmap(grad_fn)(gates, carry, kernel, input_bias, bias, first)
    for i, (g, f, c, k, ib, b) in enumerate(batch):
        one = grad_fn(g, c, k, ib, b, f)
        for g_batch, g_one in zip(jax.tree.leaves(vmapped), jax.tree.leaves(one), strict=True):
            np.testing.assert_allclose(g_batch[i], g_one, rtol=1e-5, atol=1e-6)
