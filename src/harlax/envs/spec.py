"""Static description of a multi-agent environment as harlax sees it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class MultiAgentSpec:
    """Agents, padded sizes and masks of an environment (host-side, static).

    Every per-agent array has a leading agent axis `A`. Agents with smaller
    observations or action spaces are padded to the largest; `action_mask`
    marks the real action entries (discrete: actions; continuous: dimensions).
    """

    agents: tuple[str, ...]
    obs_dims: tuple[int, ...]
    action_dims: tuple[int, ...]
    discrete: bool
    state_dim: int
    max_steps: int
    action_low: tuple[float, ...] = ()
    """Continuous only: lower bound per padded action dimension [U]."""
    action_high: tuple[float, ...] = ()
    active_masks: bool = False
    """The environment reports agents that are inactive while the episode goes on (SMAX:
    dead units); the adapter's `AdapterState.active` is all True otherwise."""
    win_signal: bool = False
    """The environment reports won episodes (SMAX: all enemies dead); `StepInfo.won`."""

    @property
    def num_agents(self) -> int:
        return len(self.agents)

    @property
    def obs_dim(self) -> int:
        return max(self.obs_dims)

    @property
    def action_dim(self) -> int:
        return max(self.action_dims)

    @property
    def heterogeneous(self) -> bool:
        return len(set(self.obs_dims)) > 1 or len(set(self.action_dims)) > 1

    def action_mask(self) -> np.ndarray:
        """[A, U] bool: True where the action entry exists for that agent."""
        return np.arange(self.action_dim)[None, :] < np.asarray(self.action_dims)[:, None]
