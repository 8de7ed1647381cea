"""Pure functions around a state-value critic `V(o_i)` (local, IPPO) or `V(s)` (central,
MAPPO/HAPPO/HATRPO): the other side of the critic interface `harlax.algos.q_critic.QCritic`
implements (`actor_signal`, `batch_inputs`, `rollout_value`)."""

from __future__ import annotations

from harlax.nets import AgentNet
from harlax.rollout import critic_input
from harlax.types import Array, LearnerState, Transition


class VCritic:
    """A V critic's part in an update: the actor's signal is the GAE advantage."""

    rollout_value = None  # the rollout evaluates a V critic itself (rollout.make_value_fn)

    def __init__(self, critic: AgentNet, central: bool):
        self.critic, self.central = critic, central

    def actor_signal(
        self, state: LearnerState, tr: Transition, key: Array, advantage: Array, target: Array
    ) -> tuple[Array, dict]:
        """`(signal [T, B, A], metrics)`: the GAE `advantage` itself, raw scale."""
        return advantage, {}

    def batch_inputs(self, tr: Transition) -> tuple[Array, None]:
        """The critic's training input `[T, B, A, D]` (state or local observations), and no
        own-action head to select."""
        return critic_input(tr.obs, self.central, self.critic.num_agents), None
