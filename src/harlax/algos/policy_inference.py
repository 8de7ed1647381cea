"""MADDPG's inferred policies (Lowe et al. 2017, sec. 4.2): agent i fits a model of every
other agent j's policy to j's replayed actions, and bootstraps its critic from (target
copies of) those models instead of the other agents' target actors. The models are one
stacked net over the `A * A` pairs (i, j): categorical logits, or a Gaussian mean and
log-std, of agent j's action from j's observation."""

from __future__ import annotations

import jax.numpy as jnp
import optax

from harlax.algos.offpolicy import apply_stacked
from harlax.distributions import gumbel_softmax
from harlax.nets import AgentNet
from harlax.types import Array, Observation, PyTree, Replay


class PolicyInference:
    """The inference net, its optimiser (one per agent i), its loss and its actions."""

    def __init__(
        self,
        net: AgentNet,
        head,
        spec,
        config,
        tx: optax.GradientTransformation,
        low: Array | None,
        high: Array | None,
    ):
        self.net, self.head, self.spec, self.config, self.tx = net, head, spec, config, tx
        self.num_agents = spec.num_agents
        self.low, self.high = low, high

    def out(self, params: PyTree, obs: Array) -> Array:
        """Agent i's model of agent j: outputs `[A(i), A(j), N, K]` for obs `[N, A, O]`."""
        a = self.num_agents
        per_agent = jnp.swapaxes(obs, 0, 1)  # [A(j), N, O]
        x = jnp.broadcast_to(per_agent[None], (a,) + per_agent.shape)
        out = apply_stacked(self.net, params, x.reshape((a * a,) + per_agent.shape[1:]))
        return out.reshape((a, a) + out.shape[1:])

    def loss(self, params: PyTree, batch: Replay) -> tuple[Array, Array]:
        """Negative log-likelihood of the other agents' executed actions minus
        `inference_ent_coef` times entropy, summed over agents i; per-agent values `[A]`.

        Discrete: the executed action is the argmax of the stored sample (see `explore`)."""
        a = self.num_agents
        out = self.out(params, batch.obs.obs)  # [A, A, N, K]
        avail = jnp.swapaxes(batch.obs.avail, 0, 1)[None]  # [1, A(j), N, U]
        action = jnp.swapaxes(batch.action, 0, 1)[None]  # [1, A(j), N, U]
        if self.spec.discrete:
            action = jnp.argmax(action, axis=-1)
        log_prob = self.head.log_prob(out, avail, action)  # [A, A, N]
        entropy = self.head.entropy(out, avail)
        per_pair = -jnp.mean(log_prob, -1) - self.config.inference_ent_coef * jnp.mean(entropy, -1)
        per_agent = jnp.sum(jnp.where(jnp.eye(a, dtype=bool), 0.0, per_pair), axis=1)
        return jnp.sum(per_agent), per_agent

    def action(self, params: PyTree, next_obs: Observation, key: Array) -> Array:
        """Agent i's inferred actions of every agent j `[A(i), N, A(j), U]`: a Gumbel-softmax
        sample of the fitted categorical, or the fitted Gaussian mean inside the bounds."""
        out = self.out(params, next_obs.obs)  # [A, A, N, K]
        avail = jnp.swapaxes(next_obs.avail, 0, 1)[None]
        if self.spec.discrete:
            action = gumbel_softmax(
                key, out, avail, self.config.gumbel_temperature, self.config.gumbel_hard
            )
        else:
            mean = jnp.split(out, 2, axis=-1)[0]
            action = jnp.where(avail, jnp.clip(mean, self.low, self.high), 0.0)
        return jnp.swapaxes(action, 1, 2)
