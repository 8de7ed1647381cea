"""The learner protocol: what the host loop, the evaluator, checkpointing and the NaN guard
use of a learner, and nothing more.

A learner is built from `(config, derived, env)` (see `harlax.train.LEARNERS`, one row per
family) and holds no state of its own: its state is a pytree (a NamedTuple whose fields
ending in `params` are parameter sets) that `init` makes and `update` advances. Everything
it returns is unbatched over seeds; the program vmaps it.

Implemented by `harlax.algos.onpolicy.OnPolicyLearner` (IPPO, MAPPO, HAPPO, HATRPO, the
Q-critic baselines) and `harlax.algos.maddpg.MADDPGLearner` (MADDPG, DDPG).
"""

from __future__ import annotations

from typing import Any, Protocol

from harlax.types import Array, Observation, PyTree


class Learner(Protocol):
    config: Any  # harlax.config.Config
    derived: Any  # harlax.validation.Derived
    env: Any  # harlax.envs.jaxmarl.JaxMARLAdapter (its `spec` describes the agents)

    def init(self, key: Array) -> PyTree:
        """The learner state of one seed. Checkpoints hold this whole pytree."""
        ...

    def update(self, state: PyTree) -> tuple[PyTree, dict[str, Array]]:
        """One update: `(state, metrics)`, metrics scalars or `[A]` (agents). Every learner
        reports `episode_return_sum` and `episodes` (see `harlax.logging`)."""
        ...

    def policy_params(self, state: PyTree) -> PyTree:
        """The parameters greedy acting needs (evaluated periodically; the best kept)."""
        ...

    def initial_policy_hidden(self, num_envs: int) -> Array:
        """`[num_envs, A, H]` recurrent state of the policy at an episode's start (H = 0 for
        feed-forward policies)."""
        ...

    def greedy_action(
        self, params: PyTree, hidden: Array, observation: Observation, first: Array
    ) -> tuple[Array, Array]:
        """Deterministic action for evaluation on a batch of environments: `hidden [N, A, H]`,
        observation leaves `[N, A, ...]`, `first [N]` (episode starts) -> `(hidden, action)`,
        action `[N, A]` int (discrete) or `[N, A, U]` float."""
        ...

    def exported(self, state: PyTree) -> dict[str, PyTree]:
        """The named parameter sets a finished run returns and writes to `params.msgpack`
        (`TrainResult.params`); the NaN guard checks each floating leaf of them."""
        ...
