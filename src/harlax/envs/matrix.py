"""One-step cooperative matrix games with exact values.

A game is a payoff tensor `[U_1, ..., U_A]`: every agent receives `payoff[a_1, ..., a_A]`
for the joint action. Because an episode is one step, the joint Q function is the
payoff itself (`Q(s, a) = payoff[a]`), the state value of a product policy is the
expected payoff, and every estimator can be checked exactly by enumeration.

Pure-array helpers (`joint_probs`, `expected_payoff`, ...) work on lists of per-agent
probability vectors; `MatrixGameEnv` is the same game as a JaxMARL-style environment
(one step per episode, a constant observation), so learners can train on it.
"""

from __future__ import annotations

import string
from collections.abc import Sequence

import jax.numpy as jnp
import numpy as np
from jaxmarl.environments import spaces
from jaxmarl.environments.multi_agent_env import MultiAgentEnv, State

from harlax.types import Array

# ------------------------------------------------------------------ named games

CLIMBING = np.array([[11.0, -30.0, 0.0], [-30.0, 7.0, 6.0], [0.0, 0.0, 5.0]])
"""Claus & Boutilier's climbing game: optimum (0, 0) guarded by heavy penalties."""


def penalty_game(k: float = -10.0) -> np.ndarray:
    """Claus & Boutilier's penalty game: two optima on the diagonal corners, penalty k."""
    return np.array([[10.0, 0.0, k], [0.0, 2.0, 0.0], [k, 0.0, 10.0]])


OB_TOY_POLICY = np.array([0.8, 0.1, 0.1])
OB_TOY_Q = np.array([2.0, 1.0, 100.0])
"""Kuba et al. (NeurIPS 2021), the optimal-baseline toy example: one agent's policy and
its Q values `Q(s, a^{-i}, a^i)` for a fixed state and fixed other agents' actions."""

GAMES: dict[str, np.ndarray] = {"climbing": CLIMBING, "penalty": penalty_game()}


# ------------------------------------------------------------------ exact quantities


def _letters(n: int) -> str:
    return string.ascii_lowercase[:n]


def joint_probs(policies: Sequence[Array]) -> Array:
    """Product policy `[U_1, ..., U_A]` from per-agent probabilities `[U_i]`."""
    letters = _letters(len(policies))
    return jnp.einsum(",".join(letters) + "->" + letters, *policies)


def expected_payoff(payoff: Array, policies: Sequence[Array]) -> Array:
    """`[]` expected team reward (the exact joint return) of a product policy."""
    return jnp.sum(payoff * joint_probs(policies))


def joint_advantage(payoff: Array, policies: Sequence[Array]) -> Array:
    """`[U_1, ..., U_A]` exact joint advantage `Q(a) - V` of a product policy."""
    return payoff - expected_payoff(payoff, policies)


def marginal_q(payoff: Array, policies: Sequence[Array], agent: int) -> Array:
    """`[U_agent]` agent's own-action value `E_{a^{-i} ~ pi^{-i}} Q(a^{-i}, a^i)`."""
    letters = _letters(len(policies))
    others = [p for j, p in enumerate(policies) if j != agent]
    other_letters = [c for j, c in enumerate(letters) if j != agent]
    spec = letters + "," + ",".join(other_letters) + "->" + letters[agent]
    return jnp.einsum(spec, payoff, *others) if others else payoff


# ------------------------------------------------------------------ as an environment


class MatrixGameEnv(MultiAgentEnv):
    """A matrix game as a JaxMARL-style environment: one step per episode.

    Observations are a constant `[1.0]` per agent; each agent's reward is the team
    payoff of the joint action; the episode terminates after the single step.
    """

    def __init__(self, payoff: np.ndarray | str = "climbing"):
        if isinstance(payoff, str):
            if payoff not in GAMES:
                raise ValueError(f"unknown matrix game {payoff!r}; use one of {sorted(GAMES)}")
            payoff = GAMES[payoff]
        self.payoff = jnp.asarray(payoff, jnp.float32)
        num_agents = self.payoff.ndim
        super().__init__(num_agents=num_agents)
        self.agents = [f"agent_{i}" for i in range(num_agents)]
        self.max_steps = 1
        self.observation_spaces = {a: spaces.Box(0.0, 1.0, (1,)) for a in self.agents}
        self.action_spaces = {
            a: spaces.Discrete(int(n)) for a, n in zip(self.agents, self.payoff.shape, strict=True)
        }

    def _obs(self) -> dict[str, Array]:
        return {a: jnp.ones((1,), jnp.float32) for a in self.agents}

    def reset(self, key: Array):
        del key
        return self._obs(), State(done=jnp.zeros((), bool), step=jnp.zeros((), jnp.int32))

    def step_env(self, key: Array, state: State, actions: dict[str, Array]):
        del key
        joint = tuple(jnp.asarray(actions[a], jnp.int32) for a in self.agents)
        reward = self.payoff[joint]
        rewards = {a: reward for a in self.agents}
        dones = {a: jnp.ones((), bool) for a in self.agents}
        dones["__all__"] = jnp.ones((), bool)
        info = {"terminated": jnp.ones((), bool), "truncated": jnp.zeros((), bool)}
        new_state = State(done=jnp.ones((), bool), step=state.step + 1)
        return self._obs(), new_state, rewards, dones, info


__all__ = [
    "CLIMBING",
    "GAMES",
    "MatrixGameEnv",
    "OB_TOY_POLICY",
    "OB_TOY_Q",
    "expected_payoff",
    "joint_advantage",
    "joint_probs",
    "marginal_q",
    "penalty_game",
]


# ------------------------------------------------------------------ cooperative team games


def coordination_game(
    num_agents: int = 3, rewards: Sequence[float] = (10.0, 4.0, 7.0), miss: float = -3.0
) -> np.ndarray:
    """A cooperative game of `num_agents` agents with `len(rewards)` actions each: all agents
    choosing action k pays `rewards[k]`; otherwise the team pays `miss` for each agent whose
    action differs from agent 0's. Every k is a local optimum; k = 0 is the global one."""
    n = len(rewards)
    payoff = np.zeros((n,) * num_agents)
    for joint in np.ndindex(*payoff.shape):
        disagree = sum(a != joint[0] for a in joint)
        payoff[joint] = rewards[joint[0]] if disagree == 0 else miss * disagree
    return payoff


TEAM_GAMES: dict[str, np.ndarray] = {
    "climbing": CLIMBING,
    "penalty": penalty_game(),
    "coordination3": coordination_game(),
}
"""Cooperative games for checking learners exactly (every agent gets the team payoff)."""

__all__ += ["TEAM_GAMES", "coordination_game"]


# ---------------------------------------------------------------------- registry family
PREFIX = "matrix:"  # harlax.envs.registry: names are "matrix:<game>"


def names() -> list[str]:
    return [PREFIX + game for game in GAMES]


def check(name: str, env_kwargs: dict) -> None:
    """The name is checked by the registry; a matrix game takes only its own kwargs."""


def make(name: str, **kwargs) -> MatrixGameEnv:
    return MatrixGameEnv(name[len(PREFIX) :], **kwargs)
