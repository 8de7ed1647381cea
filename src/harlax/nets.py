"""Actor and critic networks (flax) and their application over the agent axis.

Every network maps `(hidden [N, H], x [T, N, D], first [T, N]) -> (hidden, out [T, N, K])`:
a time axis T and a batch axis N. Feed-forward nets ignore `hidden` (H = 0) and `first`;
GRU nets reset their hidden state where `first` marks the start of an episode.

`AgentNet` holds one module for all agents: with `shared=True` one parameter set sees a
one-hot agent id appended to its input; otherwise parameters are stacked on a leading
agent axis `[A, ...]` and applied with vmap, so all agents run as one batched matmul.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from harlax.gru import gru_recurrence
from harlax.initializers import orthogonal
from harlax.types import Array, PyTree


def _dense(features: int, scale: float = float(np.sqrt(2.0))) -> nn.Dense:
    return nn.Dense(features, kernel_init=orthogonal(scale), bias_init=nn.initializers.zeros)


def _per_gate(init, gates: int = 3):
    """Initialiser of a `[D, gates * H]` kernel: `init` drawn for each `[D, H]` gate block."""

    def per_gate(key: Array, shape: tuple[int, ...], dtype=jnp.float32) -> Array:
        rows, cols = shape
        keys = jax.random.split(key, gates)
        return jnp.concatenate([init(k, (rows, cols // gates), dtype) for k in keys], axis=1)

    return per_gate


class GRU(nn.Module):
    """A GRU over time; the carry is zeroed where `first` is set.

    The math of `flax.linen.GRUCell` (gates r, z, n; the n gate's hidden bias inside the
    reset product), with the gates' input projections computed before the time scan, one
    matmul over every step per gate `[T * N, D] @ [D, H]`. Inside the scan only the
    hidden projection `[N, H] @ [H, 3H]` is left: one matmul per step instead of six
    (`gru.gru_recurrence`, whose backward pass also keeps weight gradients out of the loop).

    Parameters: `input_kernel [D, 3H]` and `input_bias [3H]` (gates r, z, n in that
    order; lecun-normal like GRUCell), `hidden_kernel [H, 3H]` (orthogonal per gate) and
    `hidden_bias [H]` (n gate).
    """

    @nn.compact
    def __call__(self, carry: Array, inputs: Array, first: Array) -> tuple[Array, Array]:
        """carry `[N, H]`, inputs `[T, N, D]` or its rows `[T * N, D]`, first `[T, N]` ->
        (carry, outputs `[T, N, H]`)."""
        h, d = carry.shape[-1], inputs.shape[-1]
        input_kernel = self.param(
            "input_kernel", _per_gate(nn.initializers.lecun_normal()), (d, 3 * h)
        )
        input_bias = self.param("input_bias", nn.initializers.zeros, (3 * h,))
        hidden_kernel = self.param("hidden_kernel", _per_gate(orthogonal(1.0)), (h, 3 * h))
        hidden_bias = self.param("hidden_bias", nn.initializers.zeros, (h,))
        rows = inputs.reshape(-1, d)  # 2-D: plain matmuls
        gate_inputs = tuple(
            (rows @ input_kernel[:, g * h : (g + 1) * h]).reshape(first.shape + (h,))
            for g in range(3)
        )
        return gru_recurrence(gate_inputs, first, carry, hidden_kernel, input_bias, hidden_bias)


class Torso(nn.Module):
    """MLP (`num_layers` dense layers) or dense -> GRU -> dense when `recurrent`.

    `feature_norm` applies a LayerNorm to the input and `layer_norm` one after every hidden
    layer's activation (and after the GRU): HARL's `use_feature_normalization` and its
    `MLPLayer` / `RNNLayer` (harl/models/base/mlp.py, rnn.py).
    """

    hidden_dim: int
    num_layers: int
    activation: str
    recurrent: bool
    feature_norm: bool = False
    layer_norm: bool = False

    @nn.compact
    def __call__(self, hidden: Array, x: Array, first: Array) -> tuple[Array, Array]:
        act = getattr(nn, self.activation)  # one of harlax.choices.ACTIVATIONS
        norm = (lambda y: _layer_norm()(y)) if self.layer_norm else (lambda y: y)
        if self.feature_norm:
            x = _layer_norm()(x)
        if not self.recurrent:
            for _ in range(self.num_layers):
                x = norm(act(_dense(self.hidden_dim)(x)))
            return hidden, x
        x = norm(act(_dense(self.hidden_dim)(x)))
        hidden, out = GRU()(hidden, x, first)
        x = out.reshape(x.shape[:-1] + out.shape[-1:])  # back to x's rows
        return hidden, norm(act(_dense(self.hidden_dim)(norm(x))))


def _torso_of(net: nn.Module, recurrent: bool) -> Torso:
    """The `Torso` of a net that carries the torso fields (see `torso_settings`)."""
    return Torso(**{k: getattr(net, k) for k in TORSO_FIELDS}, recurrent=recurrent)


def _layer_norm() -> nn.LayerNorm:
    return nn.LayerNorm(epsilon=1e-5)  # PyTorch's (HARL's) epsilon


class ActorNet(nn.Module):
    """Policy network. Output: logits `[T, N, U]` or mean and log-std `[T, N, 2U]`."""

    action_dim: int
    discrete: bool
    hidden_dim: int = 64
    num_layers: int = 2
    activation: str = "tanh"
    recurrent: bool = False
    feature_norm: bool = False
    layer_norm: bool = False
    log_std_init: float = -0.5

    @nn.compact
    def __call__(self, hidden: Array, x: Array, first: Array) -> tuple[Array, Array]:
        hidden, h = _torso_of(self, self.recurrent)(hidden, x, first)
        out = _dense(self.action_dim, 0.01)(h)
        if self.discrete:
            return hidden, out
        log_std = self.param(
            "log_std", nn.initializers.constant(self.log_std_init), (self.action_dim,)
        )
        return hidden, jnp.concatenate([out, jnp.broadcast_to(log_std, out.shape)], axis=-1)


class ValueNet(nn.Module):
    """State-value network. Output `[T, N]`."""

    hidden_dim: int = 64
    num_layers: int = 2
    activation: str = "tanh"
    recurrent: bool = False
    feature_norm: bool = False
    layer_norm: bool = False

    @nn.compact
    def __call__(self, hidden: Array, x: Array, first: Array) -> tuple[Array, Array]:
        hidden, h = _torso_of(self, self.recurrent)(hidden, x, first)
        return hidden, _dense(1, 1.0)(h)[..., 0]


@dataclass(frozen=True)
class AgentNet:
    """One module applied for A agents, with shared or stacked parameters."""

    module: nn.Module
    num_agents: int
    shared: bool
    input_dim: int
    hidden_size: int  # 0 for feed-forward
    agent_ids: bool = True  # shared nets: append the one-hot agent id to the input

    def _input(self, agent_index: Array, x: Array) -> Array:
        """Shared nets with agent ids: `x [..., D]` with the one-hot id of `agent_index`
        (broadcastable to `x.shape[:-1]`) appended, `[..., D + A]`."""
        if not (self.shared and self.agent_ids):
            return x
        one_hot = jax.nn.one_hot(agent_index, self.num_agents, dtype=x.dtype)
        return jnp.concatenate(
            [x, jnp.broadcast_to(one_hot, x.shape[:-1] + one_hot.shape[-1:])], axis=-1
        )

    def init(self, key: Array) -> PyTree:
        """Parameters: unbatched if shared, else stacked `[A, ...]`."""
        width = self.input_dim + (self.num_agents if self.shared and self.agent_ids else 0)
        dummy = (
            jnp.zeros((1, self.hidden_size)),
            jnp.zeros((1, 1, width)),
            jnp.zeros((1, 1), bool),
        )
        if self.shared:
            return self.module.init(key, *dummy)
        keys = jax.random.split(key, self.num_agents)
        return jax.vmap(lambda k: self.module.init(k, *dummy))(keys)

    def initial_hidden(self, batch: int) -> Array:
        """Zero hidden state `[batch, A, H]`."""
        return jnp.zeros((batch, self.num_agents, self.hidden_size))

    def apply_one(
        self, params: PyTree, agent_index: Array, hidden: Array, x: Array, first: Array
    ) -> tuple[Array, Array]:
        """One agent's (unbatched) parameters on `x [T, N, D]`, `hidden [N, H]`."""
        return self._module_apply(params, hidden, self._input(agent_index, x), first)

    def _module_apply(
        self, params: PyTree, hidden: Array, x: Array, first: Array
    ) -> tuple[Array, Array]:
        """The module on `x [..., D]` (recurrent: `[T, N, D]`, time from `first [T, N]`).

        The module sees the rows flattened to 2-D. With more leading axes XLA:CPU
        transposes the activations' gradients before each weight-gradient matmul
        (measured: IPPO's minibatch steps 1.5x slower), and it sums a bias gradient over
        two row axes with a slow two-dimensional reduce-window (measured: 6x slower than
        over one axis, 8% of a recurrent MAPPO update)."""
        hidden, out = self.module.apply(params, hidden, x.reshape(-1, x.shape[-1]), first)
        return hidden, out.reshape(x.shape[:-1] + out.shape[1:])

    def apply_group(
        self, params: PyTree, agent_indices: Array, hidden: Array, x: Array, first: Array
    ) -> tuple[Array, Array]:
        """One parameter set for K agents: `x [K, T, N, D]`, `hidden [K, N, H]`."""
        if self.shared:
            return self._apply_shared(params, agent_indices, hidden, x, first)
        return jax.vmap(self.apply_one, in_axes=(None, 0, 0, 0, None))(
            params, agent_indices, hidden, x, first
        )

    def _apply_shared(
        self, params: PyTree, agent_indices: Array, hidden: Array, x: Array, first: Array
    ) -> tuple[Array, Array]:
        """`apply_group` of shared parameters as one module call over all K agents' rows.

        Vmapping over agents gives the same numbers, but then XLA:CPU batches the
        weight-gradient matmuls over agents instead of running one matmul over all rows.
        Feed-forward nets see all rows at once; recurrent ones fold K into the batch axis,
        `[T, N*K, D]`.
        """
        x = self._input(agent_indices[:, None, None], x)
        if self.hidden_size == 0:
            return self._module_apply(params, hidden, x, first)
        k, t, n = x.shape[:3]
        rows = jnp.moveaxis(x, 0, 2).reshape(t, n * k, x.shape[-1])
        carry = jnp.swapaxes(hidden, 0, 1).reshape(n * k, hidden.shape[-1])
        carry, out = self._module_apply(params, carry, rows, jnp.repeat(first, k, axis=1))
        carry = jnp.swapaxes(carry.reshape(n, k, -1), 0, 1)
        return carry, jnp.moveaxis(out.reshape((t, n, k) + out.shape[2:]), 2, 0)

    def apply_all(
        self, params: PyTree, hidden: Array, x: Array, first: Array
    ) -> tuple[Array, Array]:
        """All agents: `x [A, T, N, D]`, `hidden [A, N, H]` -> out `[A, T, N, ...]`."""
        if self.shared:
            return self._apply_shared(params, jnp.arange(self.num_agents), hidden, x, first)
        return jax.vmap(self.apply_one, in_axes=(0, 0, 0, 0, None))(
            params, jnp.arange(self.num_agents), hidden, x, first
        )


TORSO_FIELDS = ("hidden_dim", "num_layers", "activation", "feature_norm", "layer_norm")


def torso_settings(config) -> dict:
    """The Config's network shape (`TORSO_FIELDS`), for every net."""
    return {k: getattr(config, k) for k in TORSO_FIELDS}


def make_nets(spec, config, share_actor: bool, central_critic: bool) -> tuple[AgentNet, AgentNet]:
    """Actor and critic `AgentNet`s for an environment spec and a Config. The critic is
    applied for every agent, or, with `config.team_critic`, once per environment step
    (an `AgentNet` of one "agent": the team; its values are `[..., 1]`)."""
    hidden = config.hidden_dim if config.recurrent else 0
    actor = ActorNet(
        action_dim=spec.action_dim,
        discrete=spec.discrete,
        **torso_settings(config),
        recurrent=config.recurrent,
        log_std_init=config.log_std_init,
    )
    critic = ValueNet(
        **torso_settings(config),
        recurrent=config.recurrent,
    )
    ids = config.agent_ids
    actor_net = AgentNet(actor, spec.num_agents, share_actor, spec.obs_dim, hidden, agent_ids=ids)
    if config.team_critic is not None:  # one value per environment step: V(s)
        return actor_net, AgentNet(critic, 1, True, spec.state_dim, hidden, agent_ids=False)
    critic_input = spec.state_dim if central_critic else spec.obs_dim
    # One critic for all agents, told apart by their one-hot id unless `config.agent_ids` is
    # off (see docs/architecture.md).
    return actor_net, AgentNet(critic, spec.num_agents, True, critic_input, hidden, agent_ids=ids)


class QNet(nn.Module):
    """Discrete centralised Q critic: one head per own action. Output `[T, N, U]`.

    Its input (see `q_input`) holds the global state and the other agents' actions, not
    the agent's own, so `Q(s, a^{-i}, .)` for all own actions is one forward pass.
    """

    num_actions: int
    hidden_dim: int = 64
    num_layers: int = 2
    activation: str = "tanh"
    feature_norm: bool = False
    layer_norm: bool = False

    @nn.compact
    def __call__(self, hidden: Array, x: Array, first: Array) -> tuple[Array, Array]:
        hidden, h = _torso_of(self, False)(hidden, x, first)
        return hidden, _dense(self.num_actions, 1.0)(h)


def q_input(state: Array, action: Array, num_actions: int, discrete: bool) -> Array:
    """Q-critic input `[..., A, S + A*U]` for every agent i from `state [..., S]` and the
    joint action (`[..., A]` int, or `[..., A, U]` float with padded dims zero).

    Discrete: the joint action one-hot with agent i's own block zeroed (its heads give
    every own action). Continuous: the whole joint action, for `Q(s, a)`.
    """
    if discrete:
        action = jax.nn.one_hot(action, num_actions, dtype=state.dtype)
    num_agents = action.shape[-2]
    joint = jnp.broadcast_to(
        action[..., None, :, :], action.shape[:-2] + (num_agents,) + action.shape[-2:]
    )
    if discrete:
        joint = joint * (1.0 - jnp.eye(num_agents, dtype=state.dtype))[..., None]
    joint = joint.reshape(joint.shape[:-2] + (-1,))
    state = jnp.broadcast_to(state[..., None, :], joint.shape[:-1] + state.shape[-1:])
    return jnp.concatenate([state, joint], axis=-1)


def apply_q(critic: AgentNet, params: PyTree, x: Array) -> Array:
    """Feed-forward Q critic on `x [..., A, D]` -> `[..., A, U]` (discrete heads) or
    `[..., A]` (continuous `Q(s, a)`), all leading axes in one batched call."""
    lead, a = x.shape[:-2], x.shape[-2]
    flat = jnp.moveaxis(x.reshape((-1, a, x.shape[-1])), 1, 0)[:, None]  # [A, 1, N, D]
    n = flat.shape[2]
    _, out = critic.apply_all(params, jnp.zeros((a, n, 0), x.dtype), flat, jnp.zeros((1, n), bool))
    out = jnp.moveaxis(out[:, 0], 0, 1)  # [N, A, ...]
    return out.reshape(lead + out.shape[1:])


def make_q_critic(spec, config) -> AgentNet:
    """The centralised Q critic (feed-forward, one parameter set with the agent id)."""
    if spec.discrete:
        module = QNet(
            num_actions=spec.action_dim,
            **torso_settings(config),
        )
    else:
        module = ValueNet(
            **torso_settings(config),
            recurrent=False,
        )
    input_dim = spec.state_dim + spec.num_agents * spec.action_dim
    return AgentNet(module, spec.num_agents, True, input_dim, 0)


def make_maddpg_nets(spec, config, critic_dim: int) -> tuple[AgentNet, AgentNet, AgentNet]:
    """Deterministic actors, Q critics and inferred-policy nets for MADDPG / DDPG.

    The actor is `ActorNet` with `discrete=True`: its raw `[.., U]` output is used as logits
    (Gumbel-softmax) or squashed into the action bounds; no log-std parameter. Each agent
    has its own critic `Q_i(x, a)` (rewards may differ), a `ValueNet` on `critic_dim` inputs
    (the learner's critic input: the global state and all agents' actions when centralised,
    the agent's observation and its own action when decentralised; see
    `algos.maddpg.critic_input_mask`).
    The inference net approximates agent j's policy for agent i, stacked over `A * A` pairs
    (categorical logits or Gaussian mean and log-std). With policy ensembles the actors are
    stacked over `A * K` (agent i's sub-policy k at index `i * K + k`).
    """
    actor = ActorNet(
        action_dim=spec.action_dim,
        discrete=True,
        **torso_settings(config),
    )
    critic = ValueNet(
        **torso_settings(config),
    )
    approx = ActorNet(
        action_dim=spec.action_dim,
        discrete=spec.discrete,
        **torso_settings(config),
        log_std_init=config.log_std_init,
    )
    a = spec.num_agents
    return (
        AgentNet(actor, a * config.ensemble_size, False, spec.obs_dim, 0),
        AgentNet(critic, a, False, critic_dim, 0),
        AgentNet(approx, a * a, False, spec.obs_dim, 0),
    )


__all__: Sequence[str] = [
    "ActorNet",
    "ValueNet",
    "QNet",
    "AgentNet",
    "make_nets",
    "make_q_critic",
    "q_input",
    "apply_q",
    "make_maddpg_nets",
]
