"""The names a config chooses from: one tuple (or table) per name, imported by the
validation and by the code that acts on the choice. Pure Python; imports nothing.

The on-policy learner is a point in a space of four choices (see docs/architecture.md):
critic x baseline x scheme x step. `ALGOS` names the famous points.
"""

from __future__ import annotations

from typing import Any

# The famous points of the on-policy space: (critic, baseline, scheme, step, share_params).
ALGOS: dict[str, dict[str, Any]] = {
    "ippo": dict(
        critic="local_v", baseline="gae", scheme="simultaneous", step="clip", share_params=True
    ),
    "mappo": dict(
        critic="central_v", baseline="gae", scheme="simultaneous", step="clip", share_params=True
    ),
    "happo": dict(
        critic="central_v", baseline="gae", scheme="sequential", step="clip", share_params=False
    ),
    "hatrpo": dict(
        critic="central_v",
        baseline="gae",
        scheme="sequential",
        step="trust_region",
        share_params=False,
    ),
    "trpo": dict(
        critic="central_v",
        baseline="gae",
        scheme="simultaneous",
        step="trust_region",
        share_params=False,
    ),
    # Kuba et al. (NeurIPS 2021): the optimal baseline on a centralised Q critic.
    # Like the paper's code, the OB is subtracted from the lambda-return (q_signal "return").
    "mappo_ob": dict(
        critic="central_q", baseline="ob", scheme="simultaneous", step="clip", share_params=True
    ),
    "happo_ob": dict(
        critic="central_q", baseline="ob", scheme="sequential", step="clip", share_params=False
    ),
    "hatrpo_ob": dict(
        critic="central_q",
        baseline="ob",
        scheme="sequential",
        step="trust_region",
        share_params=False,
    ),
    # COMA-style actor-critic: counterfactual baseline on the same Q critic, subtracted
    # from the critic's own estimate Q(s, a) as in COMA.
    "coma": dict(
        critic="central_q",
        baseline="coma",
        scheme="simultaneous",
        step="clip",
        share_params=True,
        q_signal="critic",
    ),
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
Q_SIGNALS = ("return", "critic")  # what a Q baseline is subtracted from (algos/q_critic.py)
