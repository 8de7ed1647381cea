"""Networks over the agent axis: parameter sharing as a sum of experiences, stacked
per-agent parameters as independent networks, recurrent resets."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from harlax.distributions import CategoricalHead
from harlax.nets import GRU, ActorNet, AgentNet

A, N, D, U = 3, 5, 4, 6
KEY = jax.random.PRNGKey(0)


def data(key):
    k_obs, k_act, k_adv = jax.random.split(key, 3)
    obs = jax.random.normal(k_obs, (A, 1, N, D))
    action = jax.random.randint(k_act, (A, 1, N), 0, U)
    advantage = jax.random.normal(k_adv, (A, 1, N))
    return obs, action, advantage


def test_shared_policy_gradient_is_gradient_of_concatenated_experiences():
    """Homogeneous multi-agent policy gradient: with one shared parameter set, the
    gradient of sum_i log pi(a_i | o_i) A_i equals the gradient computed from all the
    agents' experiences concatenated into one single-agent batch."""
    module = ActorNet(action_dim=U, discrete=True, hidden_dim=8)
    net = AgentNet(module, A, shared=True, input_dim=D, hidden_size=0)
    params = net.init(KEY)
    obs, action, advantage = data(jax.random.PRNGKey(1))
    head = CategoricalHead()
    mask = jnp.ones(U, bool)
    first = jnp.zeros((1, N), bool)

    def per_agent(p):
        _, out = net.apply_all(p, jnp.zeros((A, N, 0)), obs, first)
        return jnp.sum(head.log_prob(out, mask, action) * advantage)

    def concatenated(p):
        ids = jnp.repeat(jax.nn.one_hot(jnp.arange(A), A), N, axis=0)  # [A*N, A]
        x = jnp.concatenate([obs.reshape(A * N, D), ids], axis=-1)[None]  # [1, A*N, D+A]
        _, out = module.apply(p, jnp.zeros((A * N, 0)), x, jnp.zeros((1, A * N), bool))
        return jnp.sum(head.log_prob(out[0], mask, action.reshape(-1)) * advantage.reshape(-1))

    g1, g2 = jax.grad(per_agent)(params), jax.grad(concatenated)(params)
    for a, b in zip(jax.tree.leaves(g1), jax.tree.leaves(g2), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert max(float(jnp.abs(x).max()) for x in jax.tree.leaves(g1)) > 0


def test_stacked_parameters_act_as_separate_networks():
    module = ActorNet(action_dim=U, discrete=True, hidden_dim=8)
    net = AgentNet(module, A, shared=False, input_dim=D, hidden_size=0)
    params = net.init(KEY)
    obs, _, _ = data(jax.random.PRNGKey(2))
    first = jnp.zeros((1, N), bool)
    _, out = net.apply_all(params, jnp.zeros((A, N, 0)), obs, first)
    for i in range(A):
        p_i = jax.tree.map(lambda p, i=i: p[i], params)
        _, ref = module.apply(p_i, jnp.zeros((N, 0)), obs[i], first)
        np.testing.assert_allclose(out[i], ref, rtol=1e-6, atol=1e-6)
    assert not np.allclose(out[0], out[1])  # agents were initialised differently


@pytest.mark.parametrize("shared", [True, False])
def test_gru_resets_hidden_state_where_an_episode_begins(shared):
    module = ActorNet(action_dim=U, discrete=True, hidden_dim=8, recurrent=True)
    net = AgentNet(module, A, shared=shared, input_dim=D, hidden_size=8)
    params = net.init(KEY)
    t_max = 6
    obs = jax.random.normal(jax.random.PRNGKey(3), (A, t_max, N, D))
    first = jnp.zeros((t_max, N), bool).at[3].set(True)
    hidden0 = jax.random.normal(jax.random.PRNGKey(4), (A, N, 8))
    _, out = net.apply_all(params, hidden0, obs, first)
    # From the reset on, outputs equal a fresh run from zero state on the tail.
    _, tail = net.apply_all(params, jnp.zeros((A, N, 8)), obs[:, 3:], first[3:])
    np.testing.assert_allclose(out[:, 3:], tail, rtol=1e-5, atol=1e-6)
    # Before it, the initial hidden state matters.
    _, zero_start = net.apply_all(params, jnp.zeros((A, N, 8)), obs, first)
    assert not np.allclose(out[:, :3], zero_start[:, :3])


@pytest.mark.parametrize("recurrent", [False, True])
def test_shared_group_apply_equals_one_module_call_per_agent(recurrent):
    """Shared parameters run all agents' rows in one module call (rows folded together for
    speed); a plain loop over agents with the one-hot id appended is the reference."""
    h = 8 if recurrent else 0
    module = ActorNet(action_dim=U, discrete=False, hidden_dim=8, recurrent=recurrent)
    net = AgentNet(module, A, shared=True, input_dim=D, hidden_size=h)
    params = net.init(KEY)
    t_max, agents = 4, jnp.array([2, 0])  # a group of K=2 agents, out of order
    obs = jax.random.normal(jax.random.PRNGKey(5), (2, t_max, N, D))
    first = jnp.zeros((t_max, N), bool).at[2, 1].set(True)
    hidden0 = jax.random.normal(jax.random.PRNGKey(6), (2, N, h))
    hidden, out = net.apply_group(params, agents, hidden0, obs, first)
    assert out.shape == (2, t_max, N, 2 * U) and hidden.shape == (2, N, h)
    for k, agent in enumerate(agents.tolist()):
        ids = jnp.broadcast_to(jax.nn.one_hot(agent, A), (t_max, N, A))
        x = jnp.concatenate([obs[k], ids], axis=-1)
        ref_hidden, ref = module.apply(params, hidden0[k], x, first)
        np.testing.assert_allclose(out[k], ref, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(hidden[k], ref_hidden, rtol=1e-5, atol=1e-6)
    assert not np.allclose(out[0], out[1])


def test_without_agent_ids_a_shared_net_sees_the_observation_alone():
    """agent_ids=False (JaxMARL's baselines): the first layer is D wide, not D + A, each
    agent's output is the module on its own rows, and agents that observe the same thing
    act the same."""
    module = ActorNet(action_dim=U, discrete=False, hidden_dim=8)
    with_ids = AgentNet(module, A, shared=True, input_dim=D, hidden_size=0)
    net = AgentNet(module, A, shared=True, input_dim=D, hidden_size=0, agent_ids=False)
    params = net.init(KEY)
    assert params["params"]["Torso_0"]["Dense_0"]["kernel"].shape[0] == D
    assert with_ids.init(KEY)["params"]["Torso_0"]["Dense_0"]["kernel"].shape[0] == D + A
    obs = jax.random.normal(jax.random.PRNGKey(5), (A, 2, N, D))
    first = jnp.zeros((2, N), bool)
    _, out = net.apply_all(params, jnp.zeros((A, N, 0)), obs, first)
    for agent in range(A):
        _, ref = module.apply(params, jnp.zeros((N, 0)), obs[agent].reshape(-1, D), first)
        np.testing.assert_allclose(out[agent], ref.reshape(2, N, -1), rtol=1e-5, atol=1e-6)
    same = jnp.broadcast_to(obs[:1], obs.shape)
    _, out_same = net.apply_all(params, jnp.zeros((A, N, 0)), same, first)
    np.testing.assert_allclose(out_same[1], out_same[0], rtol=1e-6)
    _, out_ids = with_ids.apply_all(with_ids.init(KEY), jnp.zeros((A, N, 0)), same, first)
    assert not np.allclose(out_ids[1], out_ids[0])


def test_gru_equals_flax_gru_cell_stepped_in_a_python_loop():
    """The GRU (input projections hoisted out of the time scan) against flax's GRUCell
    applied step by step, with the same weights mapped gate by gate, and resets."""
    t_max, n, d, h = 7, 4, 5, 6
    k_init, k_cell, k_x, k_h = jax.random.split(jax.random.PRNGKey(7), 4)
    x = jax.random.normal(k_x, (t_max, n, d))
    first = jnp.zeros((t_max, n), bool).at[2, 1].set(True).at[5].set(True)
    carry0 = jax.random.normal(k_h, (n, h))
    params = GRU().init(k_init, carry0, x, first)["params"]
    # Non-zero biases, so a bias mapped to the wrong gate shows.
    params = {**params, "input_bias": jax.random.normal(k_cell, (3 * h,))}
    params["hidden_bias"] = jax.random.normal(jax.random.PRNGKey(8), (h,))
    carry, out = GRU().apply({"params": params}, carry0, x, first)

    split = lambda a: jnp.split(a, 3, axis=-1)  # noqa: E731  gates r, z, n
    (k_ir, k_iz, k_in), (b_ir, b_iz, b_in) = (
        split(params["input_kernel"]),
        split(params["input_bias"]),
    )
    k_hr, k_hz, k_hn = split(params["hidden_kernel"])
    cell_params = {
        "ir": {"kernel": k_ir, "bias": b_ir},
        "iz": {"kernel": k_iz, "bias": b_iz},
        "in": {"kernel": k_in, "bias": b_in},
        "hr": {"kernel": k_hr},
        "hz": {"kernel": k_hz},
        "hn": {"kernel": k_hn, "bias": params["hidden_bias"]},
    }
    cell = nn.GRUCell(features=h)
    ref_carry, ref_out = carry0, []
    for t in range(t_max):
        ref_carry = jnp.where(first[t][:, None], 0.0, ref_carry)
        ref_carry, y = cell.apply({"params": cell_params}, ref_carry, x[t])
        ref_out.append(y)
    np.testing.assert_allclose(out, jnp.stack(ref_out), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(carry, ref_carry, rtol=1e-5, atol=1e-6)


def test_gru_hidden_kernel_is_orthogonal_per_gate():
    params = GRU().init(KEY, jnp.zeros((2, 8)), jnp.zeros((3, 2, 5)), jnp.zeros((3, 2), bool))
    for block in jnp.split(params["params"]["hidden_kernel"], 3, axis=1):
        np.testing.assert_allclose(block.T @ block, np.eye(8), atol=1e-5)


def _np_layer_norm(x, scale, bias, eps=1e-5):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * scale + bias


def test_feature_and_layer_norm_follow_harls_mlp():
    """HARL's MLPBase: LayerNorm(input), then (Linear -> ReLU -> LayerNorm) per layer; the
    norms' scales and biases are perturbed so that they count."""
    module = ActorNet(
        action_dim=U, discrete=True, hidden_dim=8, activation="relu", feature_norm=True,
        layer_norm=True,
    )  # fmt: skip
    x = jax.random.normal(KEY, (N, D)) * 3.0 + 1.0
    params = module.init(KEY, jnp.zeros((N, 0)), x, jnp.zeros((N,), bool))
    params = jax.tree.map(lambda p: p + 0.1 * jax.random.normal(KEY, p.shape), params)
    _, out = module.apply(params, jnp.zeros((N, 0)), x, jnp.zeros((N,), bool))
    torso = jax.tree.map(np.asarray, params["params"]["Torso_0"])
    h = _np_layer_norm(np.asarray(x), **torso["LayerNorm_0"])
    for layer in range(2):
        dense = torso[f"Dense_{layer}"]
        h = np.maximum(h @ dense["kernel"] + dense["bias"], 0.0)
        h = _np_layer_norm(h, **torso[f"LayerNorm_{layer + 1}"])
    head = jax.tree.map(np.asarray, params["params"]["Dense_0"])
    np.testing.assert_allclose(out, h @ head["kernel"] + head["bias"], rtol=1e-4, atol=1e-5)


def test_without_norms_the_parameters_have_no_layer_norm():
    params = ActorNet(action_dim=U, discrete=True, hidden_dim=8).init(
        KEY, jnp.zeros((N, 0)), jnp.zeros((N, D)), jnp.zeros((N,), bool)
    )
    assert not any("LayerNorm" in k for k in params["params"]["Torso_0"])
