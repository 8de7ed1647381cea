"""NamedTuples that cross module borders. Shapes: A agents, O padded obs size,
U padded action size, S global-state size, T time, B environments, H hidden size."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax

Array = jax.Array
PyTree = Any


class Observation(NamedTuple):
    """What the agents and the critic see at one time step (one environment)."""

    obs: Array  # [A, O] padded local observations
    state: Array  # [S] global state for centralised critics
    avail: Array  # [A, U] bool: available (and non-padded) actions or action dims


class StepInfo(NamedTuple):
    """What one adapter step reports besides the next observation (one environment)."""

    reward: Array  # [A]
    terminated: Array  # [] bool: the episode ended in a terminal state (no bootstrap)
    truncated: Array  # [] bool: the episode hit its time limit (bootstrap from final)
    final: Observation  # the true last observation of an ending episode (pre-reset)
    episode_return: Array  # [] mean over agents of the ending episode's return
    episode_length: Array  # [] int length of the ending episode
    won: Array  # [] bool: the ending episode was won (SMAX: all enemies dead); else False


class Transition(NamedTuple):
    """One time step of a rollout, batched over environments: leaves are [T, B, ...]."""

    obs: Observation  # obs [T, B, A, O], state [T, B, S], avail [T, B, A, U]
    first: Array  # [T, B] bool: obs begins an episode (recurrent state is reset)
    action: Array  # [T, B, A] int or [T, B, A, U] float
    log_prob: Array  # [T, B, A] rollout-time log-probabilities
    value: Array  # [T, B, A] critic value (normalised if value_norm; team critic [T, B, 1])
    reward: Array  # [T, B, A]
    terminated: Array  # [T, B]
    truncated: Array  # [T, B]
    bootstrap_value: Array  # [T, B, A] (team: [T, B, 1]) value of the final obs, on truncation
    episode_return: Array  # [T, B]
    episode_done: Array  # [T, B] bool: an episode ended at this step
    # [T, B, A] bool: the agent is active at this step (False: dead / inactive while the
    # episode goes on; all True where the environment has no such notion)
    active: Array | None = None
    episode_won: Array | None = None  # [T, B] bool: an episode ended at this step, won


class RunnerState(NamedTuple):
    """What the rollout carries from one step to the next: leaves are [B, ...]."""

    env_state: PyTree  # batched AdapterState; .observation is the current observation
    first: Array  # [B] bool
    actor_hidden: Array  # [B, A, H] (H = 0 for feed-forward actors)
    critic_hidden: Array  # [B, A, H]


class ValueNormState(NamedTuple):
    """Running statistics of value targets (MAPPO's ValueNorm, debiased EMA)."""

    mean: Array  # []
    mean_sq: Array  # []
    debias: Array  # []


class LearnerState(NamedTuple):
    """Everything a training program carries between updates (one seed)."""

    actor_params: PyTree  # leaves [A, ...] (separate) or unbatched (shared)
    critic_params: PyTree
    actor_opt_state: PyTree
    critic_opt_state: PyTree
    value_norm: ValueNormState
    runner: RunnerState
    key: Array
    update: Array  # [] int: updates done so far


class Replay(NamedTuple):
    """One joint transition in the replay buffer (one environment step, all agents)."""

    obs: Observation  # obs [A, O], state [S], avail [A, U]
    action: Array  # [A, U] float: critic input (one-hot of the executed discrete action)
    reward: Array  # [A]
    next_obs: Observation  # the true next observation (pre-reset at an episode's end)
    terminated: Array  # [] bool: no bootstrap (truncation at the time limit bootstraps)
    sub_policy: Array  # [A] int: each agent's acting sub-policy (policy ensembles; else 0)


class OffPolicyState(NamedTuple):
    """Everything MADDPG / DDPG carry between updates (one seed). Parameters are
    stacked over agents `[A, ...]` (actors over `[A * K, ...]` with K ensemble sub-policies,
    inference nets over agent pairs `[A * A, ...]`)."""

    actor_params: PyTree
    critic_params: PyTree
    actor_opt_state: PyTree
    critic_opt_state: PyTree
    target_actor_params: PyTree
    target_critic_params: PyTree
    approx_params: PyTree  # () unless infer_policies
    approx_opt_state: PyTree
    target_approx_params: PyTree  # Polyak-averaged copies of approx_params (the paper's)
    buffer: PyTree  # flashbax buffer state holding `Replay` items
    value_norm: ValueNormState  # unused; kept so host code can treat both learners alike
    runner: RunnerState
    key: Array
    update: Array  # [] int
