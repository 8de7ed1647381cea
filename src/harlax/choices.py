"""The names a config chooses from: one tuple (or table) per name, imported by the
validation and by the code that acts on the choice. Pure Python; imports nothing.

The on-policy learner is a point in a space of four choices (see docs/architecture.md):
critic x baseline x scheme x step. `ALGOS` names the famous points.
"""

from __future__ import annotations

from typing import Any


def _point(critic: str, baseline: str, scheme: str, step: str, share: bool, **extra: Any):
    return dict(
        critic=critic, baseline=baseline, scheme=scheme, step=step, share_params=share, **extra
    )


# The famous points of the on-policy space: (critic, baseline, scheme, step, share_params).
ALGOS: dict[str, dict[str, Any]] = {
    "ippo": _point("local_v", "gae", "simultaneous", "clip", True),
    "mappo": _point("central_v", "gae", "simultaneous", "clip", True),
    "happo": _point("central_v", "gae", "sequential", "clip", False),
    "hatrpo": _point("central_v", "gae", "sequential", "trust_region", False),
    "trpo": _point("central_v", "gae", "simultaneous", "trust_region", False),
    # Kuba et al. (NeurIPS 2021): the optimal baseline on a centralised Q critic.
    # Like the paper's code, the OB is subtracted from the lambda-return (q_signal "return").
    "mappo_ob": _point("central_q", "ob", "simultaneous", "clip", True),
    "happo_ob": _point("central_q", "ob", "sequential", "clip", False),
    "hatrpo_ob": _point("central_q", "ob", "sequential", "trust_region", False),
    # COMA-style actor-critic: counterfactual baseline on the same Q critic, subtracted
    # from the critic's own estimate Q(s, a) as in COMA.
    "coma": _point("central_q", "coma", "simultaneous", "clip", True, q_signal="critic"),
}

# Off-policy learners (algos/maddpg.py): MADDPG and its decentralised-critic ablation.
OFFPOLICY_ALGOS: dict[str, dict[str, Any]] = {
    "maddpg": dict(centralised_critic=True),
    "ddpg": dict(centralised_critic=False),
}
# Cross-play (Config.adversary_algo): agents whose environment name starts with this prefix
# (JaxMARL MPE: simple_adversary, simple_tag, simple_push) are the adversary team.
ADVERSARY_PREFIX = "adversary"


CRITICS = ("local_v", "central_v", "central_q")
V_BASELINES = ("gae",)  # computed from a V critic
Q_BASELINES = ("ob", "coma", "none")  # need critic "central_q" (see harlax.baselines)
BASELINES = V_BASELINES + Q_BASELINES
SCHEMES = ("simultaneous", "sequential")
STEPS = ("clip", "trust_region")
ACTIVATIONS = ("tanh", "relu")  # flax.linen functions of these names (harlax.nets)
VALUE_LOSSES = ("mse", "huber")
# A team critic's reward (Config.team_critic): the agents' rewards summed or averaged.
TEAM_REWARDS = ("sum", "mean")
Q_SIGNALS = ("return", "critic")  # what a Q baseline is subtracted from (algos/q_critic.py)
