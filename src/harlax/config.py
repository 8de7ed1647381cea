"""The one frozen configuration of a training run, its validation and its presets.

`Config` holds what a user chooses; `Derived` holds what follows from it (number of
updates, batch sizes, the resolved learner choices). Nothing mutates a config at run
time: `derive(config)` validates and returns both.

The on-policy learner is a point in a space of four choices (see DESIGN.md):
critic x baseline x scheme x step. `algo` names a famous point; the fields `critic`,
`baseline`, `scheme`, `step` and `share_params` override single coordinates.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
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
BASELINES = ("gae", "coma", "ob", "none")
V_BASELINES = ("gae",)  # the others need critic "central_q" (see harlax.baselines)
SCHEMES = ("simultaneous", "sequential")
STEPS = ("clip", "trust_region")
ACTIVATIONS = ("tanh", "relu")
VALUE_LOSSES = ("mse", "huber")
Q_SIGNALS = ("return", "critic")  # what a Q baseline is subtracted from (algos/q_critic.py)


@dataclass(frozen=True)
class Config:
    """Everything a run depends on. Any field can be overridden; see `validate()`."""

    # --- what to train where
    algo: str = "mappo"
    """Learner: ippo, mappo, happo, hatrpo, trpo, mappo_ob, happo_ob, hatrpo_ob, coma
    (points of the on-policy learner); maddpg, ddpg (off-policy, replay buffer)."""
    env: str = "MPE_simple_spread_v3"
    """Environment: a JaxMARL registry name (MPE_*, SMAX with env_kwargs map_name=...,
    MABrax names), mamujoco:<scenario>, or matrix:<game>; `harlax envs` lists them."""
    env_kwargs: dict[str, int | float | bool | str] = field(default_factory=dict)
    """Keyword arguments for the environment, e.g. {"action_type": "Continuous"}."""
    seed: int = 0
    """Seed of the first seed; seed i of the run is seed + i."""
    num_seeds: int = 1
    """Independent seeds trained in one program (a vmap axis)."""

    # --- budget and batch
    total_steps: int = 1_048_576
    """Environment steps per seed; must be a multiple of num_envs * rollout_length."""
    num_envs: int = 64
    """Parallel environments per seed (the environment batch; sharded over devices)."""
    rollout_length: int = 128
    """Steps collected per environment per update."""
    num_epochs: int = 4
    """Passes over each rollout (PPO clip step; ignored by the trust-region step)."""
    num_minibatches: int = 4
    """Minibatches per epoch (over envs for recurrent nets, over samples otherwise)."""
    updates_per_chunk: int = 8
    """Updates compiled into one lax.scan between host logging points."""

    # --- learner choices (None: the algo's choice)
    critic: str | None = None
    """local_v (IPPO), central_v (MAPPO), central_q (Q critic for OB/COMA); None: algo's."""
    baseline: str | None = None
    """gae (V critic), ob (optimal baseline), coma, none (vanilla MAPG); None: algo's."""
    scheme: str | None = None
    """simultaneous (all agents at once) or sequential (HAPPO/HATRPO); None: algo's."""
    step: str | None = None
    """clip (PPO) or trust_region (natural gradient under a KL bound); None: algo's."""
    share_params: bool | None = None
    """One actor for all agents with a one-hot agent id; None: the algo's choice."""
    fixed_order: bool = False
    """Sequential scheme: update agents in index order instead of a random permutation."""

    # --- optimisation
    lr: float = 5e-4
    """Actor learning rate (Adam)."""
    critic_lr: float = 5e-4
    """Critic learning rate (Adam)."""
    anneal_lr: bool = False
    """Decay both learning rates linearly to 0 over the run."""
    max_grad_norm: float = 0.5
    """Global gradient-norm clip."""
    gamma: float = 0.99
    """Discount factor."""
    gae_lambda: float = 0.95
    """GAE lambda (also the TD(lambda) of the Q critic)."""
    clip_eps: float = 0.2
    """PPO ratio clip range (HAPPO clips the agent's own ratio)."""
    value_clip_eps: float = 0.2
    """Clip range of the value loss; 0 disables value clipping."""
    value_loss: str = "mse"
    """Critic regression loss: "mse" (half squared error) or "huber" (HARL's, see huber_delta)."""
    huber_delta: float = 10.0
    """Huber value loss: quadratic within this distance of the target, linear beyond."""
    ent_coef: float = 0.01
    """Entropy bonus coefficient of the actor loss."""
    value_norm: bool = True
    """Normalise value targets by their running mean and std (MAPPO's ValueNorm)."""
    normalize_advantages: bool = True
    """Standardise advantages over the batch before the actor update (over the active
    samples only when policy active masks apply)."""
    use_policy_active_masks: bool = True
    """Leave inactive (e.g. dead SMAX) agents' samples out of the policy loss, the
    trust-region surrogate and KL, the entropy and the advantage statistics (HARL's
    use_policy_active_masks). Only environments that report inactive agents have any."""
    use_value_active_masks: bool = True
    """Leave inactive agents' samples out of the critic loss (use_value_active_masks)."""

    # --- trust region (HATRPO / TRPO); defaults from Kuba et al. (ICLR 2022), HARL configs
    kl_threshold: float = 0.01
    """Trust-region bound delta on the mean KL(pi_old || pi_new)."""
    cg_iters: int = 10
    """Conjugate-gradient iterations for the natural-gradient direction."""
    cg_damping: float = 0.1
    """Damping added to the Fisher-vector product."""
    line_search_steps: int = 10
    """Backtracking line-search tries before a step is rejected."""
    accept_ratio: float = 0.5
    """Accept a step whose improvement is at least this share of the expected one."""
    backtrack_coef: float = 0.8
    """Step fraction shrink factor per line-search try."""

    # --- networks
    hidden_dim: int = 64
    """Width of the hidden layers (and of the GRU state when recurrent)."""
    num_layers: int = 2
    """Hidden layers of the feed-forward torso."""
    activation: str = "tanh"
    """tanh or relu."""
    recurrent: bool = False
    """GRU actor and critic; minibatches are whole sequences."""
    feature_norm: bool = False
    """LayerNorm of every net's input (HARL's use_feature_normalization)."""
    layer_norm: bool = False
    """LayerNorm after every hidden layer's activation (HARL's MLP and RNN layers)."""
    log_std_init: float = -0.5
    """Initial state-independent log-std of Gaussian policies."""

    # --- Q-critic baselines (baseline "ob", "coma", "none"; Kuba et al., NeurIPS 2021)
    q_signal: str | None = None
    """Q critic: the estimate of the taken action's value the baseline is subtracted from:
    "return" (the lambda-return the critic is trained on, as the OB paper's code; lambda 1
    is its Monte Carlo return) or "critic" (the critic's Q(s, a), as COMA); None: the
    algo's choice (coma: "critic", the others: "return")."""
    ob_samples: int = 200
    """Gaussian policies: own actions sampled per state to estimate the OB / COMA baseline.
    The OB's effective sample size is about 0.11 K per action dimension (logged as ob_ess);
    K=200 (ESS ~30) cost about as much as K=50 on MABrax halfcheetah_6x1, K=1000 (ESS ~120,
    the OB paper's code) 3.4x the update time (benchmarks/results/ob_samples_*.csv)."""
    grad_variance_splits: int = 0
    """Log `pg_grad_var`, the variance of the vanilla policy gradient across this many
    minibatches of each rollout (raw advantage / X signal); 0 disables."""

    # --- output
    out: str | None = None
    """Run directory (default: runs/<algo>_<env>_s<seed>_<time>); must not hold files yet."""
    progress: bool = True
    """Show the progress bar (steps, steps/s, return, time left)."""
    checkpoint_every: int = 0
    """Save the whole learner state every this many updates (a multiple of
    updates_per_chunk; 0: only at the end of the run)."""
    keep_checkpoints: int = 3
    """How many of the latest checkpoints to keep on disk."""
    eval_every: int = 0
    """Greedy evaluation on separate environments every this many updates (a multiple of
    updates_per_chunk; 0: no evaluation)."""
    eval_episodes: int = 16
    """Episodes per periodic evaluation (one per evaluation environment)."""
    final_eval_episodes: int = 64
    """Episodes of the final evaluation of the best and last parameters (absolute metric)."""
    num_devices: int | None = None
    """Devices the environment batch is sharded over (None: all); must divide num_envs."""
    tensorboard: bool = False
    """Also write TensorBoard scalars (mean over seeds) to <run_dir>/tb (`harlax[tb]`)."""
    wandb_project: str | None = None
    """Also log to Weights & Biases under this project (`harlax[wandb]`); None: off."""

    # --- MADDPG / DDPG (algo="maddpg" | "ddpg"; Lowe et al., 2017). An update collects
    # num_envs * rollout_length steps into the replay buffer, then takes gradient_steps
    # steps on batches of batch_size sampled from it; lr / critic_lr / max_grad_norm /
    # gamma apply too, the PPO and trust-region fields do not.
    buffer_size: int = 1_000_000
    """Replay buffer capacity in joint transitions (per ensemble member)."""
    batch_size: int = 1024
    """MADDPG: transitions per sampled replay batch."""
    learning_starts: int = 25_600
    """Transitions in the buffer before gradient steps begin (>= batch_size). The default is
    the reference's (openai/maddpg, trainer/maddpg.py: updates start once the buffer holds
    batch_size * max_episode_len = 1024 * 25 transitions)."""
    gradient_steps: int = 1
    """Gradient steps per update (the paper: one per 100 environment steps)."""
    tau: float = 0.01
    """Polyak coefficient of the target networks: target <- tau * online + (1 - tau) * target."""
    exploration_noise: float = 0.1
    """Continuous actions: Gaussian noise std as a fraction of the action range."""
    gumbel_temperature: float = 1.0
    """MADDPG, discrete actions: Gumbel-softmax temperature."""
    gumbel_hard: bool = False
    """Discrete actions: the straight-through one-hot Gumbel-softmax sample instead of the
    soft one (the reference's), used everywhere: stored when acting, in the actor loss, for
    the target's next actions and the inferred policies."""
    action_reg: float = 1e-3
    """Actor loss penalty on the squared pre-activation outputs (as in the paper's code)."""
    centralised_critic: bool | None = None
    """None: the algo's choice (maddpg: Q_i(x, a_1..a_N); ddpg: Q_i(o_i, a_i))."""
    adversary_algo: str | None = None
    """Cross-play (the paper's MADDPG-vs-DDPG comparison): "maddpg" or "ddpg" for the agents
    whose name starts with "adversary"; the other agents use `algo`. None: all use `algo`."""
    infer_policies: bool = False
    """Critic targets use each agent's approximations of the other agents' policies."""
    inference_ent_coef: float = 1e-3
    """Entropy regulariser of the policy-inference log-likelihood."""
    ensemble_size: int = 1
    """Policy ensembles: K sub-policies per agent, one drawn per agent each update (= each
    episode when rollout_length is the episode length); each trains on its own data."""

    # ------------------------------------------------------------------ helpers
    def replace(self, **changes: Any) -> Config:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Config:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"Config: unknown field(s) {unknown}; valid fields: {sorted(known)}")
        return cls(**data)

    @classmethod
    def from_json(cls, text: str) -> Config:
        return cls.from_dict(json.loads(text))

    def validate(self) -> Derived:
        """Check every field and combination; return the derived values.

        Raises ValueError naming the field and the fix. Runs before any compilation.
        """
        return derive(self)


@dataclass(frozen=True)
class Derived:
    """Values that follow from a Config. Never edited by hand."""

    critic: str
    baseline: str
    scheme: str
    step: str
    share_params: bool
    steps_per_update: int
    num_updates: int
    num_chunks: int
    minibatch_size: int
    q_signal: str | None = None
    """Q critic only: "return" or "critic" (see Config.q_signal); None for V critics."""
    family: str = "onpolicy"
    """"onpolicy" or "offpolicy" (MADDPG / DDPG)."""
    centralised_critic: bool = True
    """Off-policy only: Q_i(x, a_1..a_N) instead of Q_i(o_i, a_i) (with adversary_algo: the
    choice of the agents that are not adversaries)."""
    adversary_centralised_critic: bool | None = None
    """Off-policy cross-play only: the adversary agents' choice (None: centralised_critic)."""


def _fail(field_name: str, problem: str, fix: str) -> None:
    raise ValueError(f"Config.{field_name}: {problem}. Fix: {fix}")


def _check_choice(field_name: str, value: Any, valid: tuple[str, ...]) -> None:
    if value not in valid:
        _fail(field_name, f"unknown value {value!r}", f"use one of {list(valid)}")


def _check_baseline_pairing(c: Config, critic: str, baseline: str) -> None:
    """GAE needs a V critic; the Q baselines (ob, coma, none) need the Q critic."""
    if baseline in V_BASELINES and critic == "central_q":
        _fail(
            "baseline",
            f"baseline {baseline!r} is computed from a V critic, not critic 'central_q'",
            "set critic='central_v' (or 'local_v'), or baseline to 'ob', 'coma' or 'none'",
        )
    if baseline not in V_BASELINES and critic != "central_q":
        _fail(
            "critic",
            f"baseline {baseline!r} needs the centralised Q critic, got critic {critic!r}",
            "set critic='central_q' (e.g. algo='mappo_ob'), or baseline='gae'",
        )
    if critic == "central_q" and c.recurrent:
        _fail(
            "recurrent",
            "the Q critic is feed-forward (it is evaluated on many sampled actions per state)",
            "set recurrent=False, or use a V critic with baseline='gae'",
        )
    if not isinstance(c.ob_samples, int) or isinstance(c.ob_samples, bool) or c.ob_samples < 1:
        _fail(
            "ob_samples",
            f"must be a positive integer, got {c.ob_samples!r}",
            "use an integer >= 1 (hundreds for Gaussian policies)",
        )
    splits = c.grad_variance_splits
    if not isinstance(splits, int) or isinstance(splits, bool) or splits < 0 or splits == 1:
        _fail(
            "grad_variance_splits",
            f"must be 0 (off) or an integer >= 2, got {splits!r}",
            "use 0, or e.g. 8",
        )
    sequences = c.num_envs if c.recurrent else c.num_envs * c.rollout_length
    if splits and sequences % splits:
        _fail(
            "grad_variance_splits",
            f"{sequences} samples do not split into {splits} minibatches",
            "choose a divisor of num_envs * rollout_length (of num_envs when recurrent)",
        )


def _check_budget(c: Config) -> tuple[int, int]:
    """`(steps_per_update, num_updates)`; the budget must be whole updates and chunks."""
    steps_per_update = c.num_envs * c.rollout_length
    if c.total_steps % steps_per_update:
        lower = (c.total_steps // steps_per_update) * steps_per_update
        _fail(
            "total_steps",
            f"{c.total_steps} is not a whole number of updates of num_envs * rollout_length "
            f"= {steps_per_update} steps",
            f"use {lower or steps_per_update} or {lower + steps_per_update}",
        )
    num_updates = c.total_steps // steps_per_update
    if num_updates % c.updates_per_chunk:
        _fail(
            "updates_per_chunk",
            f"the run has {num_updates} updates, not a multiple of {c.updates_per_chunk}",
            f"choose a divisor of {num_updates}, e.g. "
            f"{max(d for d in range(1, c.updates_per_chunk + 1) if num_updates % d == 0)}",
        )
    return steps_per_update, num_updates


def derive(config: Config) -> Derived:
    """Validate `config` and compute the derived values (see `Derived`)."""
    c = config
    _check_choice("algo", c.algo, tuple(ALGOS) + tuple(OFFPOLICY_ALGOS))
    from harlax.envs.registry import check_env_name  # local import: envs import config

    check_env_name(c.env, c.env_kwargs)
    if not isinstance(c.env_kwargs, dict):
        _fail("env_kwargs", "must be a dict", "pass a dict of keyword arguments")
    if c.algo in OFFPOLICY_ALGOS:
        return derive_offpolicy(c)
    if c.adversary_algo is not None:
        _fail(
            "adversary_algo",
            f"cross-play mixes the off-policy learners; algo {c.algo!r} is on-policy",
            "set algo='maddpg' or 'ddpg', or adversary_algo=None",
        )

    point = dict(ALGOS[c.algo])
    for name in ("critic", "baseline", "scheme", "step", "share_params"):
        if getattr(c, name) is not None:
            point[name] = getattr(c, name)
    if point["baseline"] != ALGOS[c.algo]["baseline"]:  # the algo's signal goes with its baseline
        point.pop("q_signal", None)
    _check_choice("critic", point["critic"], CRITICS)
    _check_choice("baseline", point["baseline"], BASELINES)
    _check_choice("scheme", point["scheme"], SCHEMES)
    _check_choice("step", point["step"], STEPS)
    _check_choice("activation", c.activation, ACTIVATIONS)
    _check_choice("value_loss", c.value_loss, VALUE_LOSSES)
    _check_baseline_pairing(c, point["critic"], point["baseline"])
    q_signal = _resolve_q_signal(c, point)
    if point["scheme"] == "sequential" and point["share_params"]:
        _fail(
            "share_params",
            "the sequential scheme needs one policy per agent: its improvement guarantee is "
            "about distinct agents' policies updated one after another, and a shared policy "
            "would be changed again by every later agent",
            "set share_params=False, or use scheme='simultaneous'",
        )

    for name in (
        "num_seeds",
        "total_steps",
        "num_envs",
        "rollout_length",
        "num_epochs",
        "num_minibatches",
        "updates_per_chunk",
        "hidden_dim",
        "num_layers",
        "cg_iters",
        "line_search_steps",
    ):
        value = getattr(c, name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            _fail(name, f"must be a positive integer, got {value!r}", "use an integer >= 1")
    for name in ("lr", "critic_lr", "max_grad_norm", "kl_threshold", "huber_delta"):
        value = getattr(c, name)
        if not value > 0:
            _fail(name, f"must be positive, got {value!r}", "use a value > 0")
    for name in ("ent_coef", "value_clip_eps", "cg_damping"):
        if getattr(c, name) < 0:
            _fail(name, f"must be >= 0, got {getattr(c, name)!r}", "use a value >= 0")
    for name in ("gamma", "gae_lambda", "accept_ratio"):
        value = getattr(c, name)
        if not 0.0 <= value <= 1.0:
            _fail(name, f"must lie in [0, 1], got {value!r}", "use a value in [0, 1]")
    for name in ("clip_eps", "backtrack_coef"):
        value = getattr(c, name)
        if not 0.0 < value < 1.0:
            _fail(name, f"must lie in (0, 1), got {value!r}", "use a value in (0, 1)")

    steps_per_update, num_updates = _check_budget(c)
    if c.recurrent:
        if c.num_envs % c.num_minibatches:
            _fail(
                "num_minibatches",
                f"recurrent minibatches are whole sequences, so num_envs={c.num_envs} must "
                f"divide by num_minibatches={c.num_minibatches}",
                "choose a divisor of num_envs",
            )
        minibatch_size = c.num_envs // c.num_minibatches
    else:
        if steps_per_update % c.num_minibatches:
            _fail(
                "num_minibatches",
                f"the batch of {steps_per_update} samples does not divide into "
                f"{c.num_minibatches} minibatches",
                "choose a divisor of num_envs * rollout_length",
            )
        minibatch_size = steps_per_update // c.num_minibatches
    _check_output(c)
    return Derived(
        critic=point["critic"],
        baseline=point["baseline"],
        scheme=point["scheme"],
        step=point["step"],
        share_params=bool(point["share_params"]),
        steps_per_update=steps_per_update,
        num_updates=num_updates,
        num_chunks=num_updates // c.updates_per_chunk,
        minibatch_size=minibatch_size,
        q_signal=q_signal,
    )


def _resolve_q_signal(c: Config, point: dict[str, Any]) -> str | None:
    """The Q critic's signal: the field, else the algo's, else "return"; None for V critics."""
    if point["critic"] != "central_q":
        if c.q_signal is not None:
            _fail(
                "q_signal",
                f"only the Q critic's baselines use it, but critic is {point['critic']!r}",
                "leave q_signal unset (None), or use critic='central_q' (e.g. algo='mappo_ob')",
            )
        return None
    q_signal = c.q_signal if c.q_signal is not None else point.get("q_signal", "return")
    _check_choice("q_signal", q_signal, Q_SIGNALS)
    return q_signal


def derive_offpolicy(config: Config) -> Derived:
    """Validate the fields MADDPG / DDPG use; the on-policy-only fields are ignored."""
    c = config
    _check_choice("activation", c.activation, ACTIVATIONS)
    if c.recurrent:
        _fail(
            "recurrent", "MADDPG / DDPG use feed-forward actors and critics", "set recurrent=False"
        )
    for name in (
        "num_seeds",
        "total_steps",
        "num_envs",
        "rollout_length",
        "updates_per_chunk",
        "hidden_dim",
        "num_layers",
        "buffer_size",
        "batch_size",
        "learning_starts",
        "gradient_steps",
        "ensemble_size",
    ):
        value = getattr(c, name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            _fail(name, f"must be a positive integer, got {value!r}", "use an integer >= 1")
    for name in ("lr", "critic_lr", "max_grad_norm", "gumbel_temperature"):
        if not getattr(c, name) > 0:
            _fail(name, f"must be positive, got {getattr(c, name)!r}", "use a value > 0")
    for name in ("exploration_noise", "action_reg", "inference_ent_coef"):
        if getattr(c, name) < 0:
            _fail(name, f"must be >= 0, got {getattr(c, name)!r}", "use a value >= 0")
    if not 0.0 <= c.gamma <= 1.0:
        _fail("gamma", f"must lie in [0, 1], got {c.gamma!r}", "use a value in [0, 1]")
    if not 0.0 < c.tau <= 1.0:
        _fail("tau", f"must lie in (0, 1], got {c.tau!r}", "use e.g. 0.01 (1 copies the nets)")
    if c.share_params:
        _fail(
            "share_params",
            "MADDPG / DDPG keep one actor and one critic per agent",
            "leave share_params unset (None)",
        )
    adversary_central = _check_adversary_algo(c)
    if (
        c.infer_policies
        and not OFFPOLICY_ALGOS[c.algo]["centralised_critic"]
        and not c.centralised_critic
        and not adversary_central
    ):
        _fail(
            "infer_policies",
            "a decentralised critic Q_i(o_i, a_i) never sees the other "
            "agents' actions, so there is nothing to infer",
            "use algo='maddpg' (or adversary_algo='maddpg')",
        )
    steps_per_update = c.num_envs * c.rollout_length
    if c.buffer_size < steps_per_update:
        _fail(
            "buffer_size",
            f"{c.buffer_size} cannot hold one update's "
            f"num_envs * rollout_length = {steps_per_update} transitions",
            f"use buffer_size >= {steps_per_update}",
        )
    if c.batch_size > c.learning_starts:
        _fail(
            "learning_starts",
            f"{c.learning_starts} is smaller than batch_size="
            f"{c.batch_size}: a batch would hold duplicates of few transitions",
            f"use learning_starts >= {c.batch_size}",
        )
    if c.learning_starts > c.buffer_size:
        _fail(
            "learning_starts",
            f"{c.learning_starts} exceeds buffer_size={c.buffer_size}",
            "use learning_starts <= buffer_size",
        )
    _, num_updates = _check_budget(c)
    _check_output(c)
    central = OFFPOLICY_ALGOS[c.algo]["centralised_critic"]
    if c.centralised_critic is not None:
        central = bool(c.centralised_critic)
    return Derived(
        critic="central_q" if central else "local_q",
        baseline="none",
        scheme="simultaneous",
        step="ddpg",
        share_params=False,
        steps_per_update=steps_per_update,
        num_updates=num_updates,
        num_chunks=num_updates // c.updates_per_chunk,
        minibatch_size=c.batch_size,
        family="offpolicy",
        centralised_critic=central,
        adversary_centralised_critic=adversary_central,
    )


def _check_adversary_algo(c: Config) -> bool | None:
    """Cross-play: the adversaries' critic choice (None without `adversary_algo`). Builds the
    environment object (no compilation) to check that it has adversary agents."""
    if c.adversary_algo is None:
        return None
    _check_choice("adversary_algo", c.adversary_algo, tuple(OFFPOLICY_ALGOS))
    if c.centralised_critic is not None:
        _fail(
            "centralised_critic",
            "with adversary_algo each team's critic follows its algo, so an override for all "
            "agents is ambiguous",
            "leave centralised_critic unset (None), or set adversary_algo=None",
        )
    from harlax.envs.registry import make_raw_env  # local import: envs import config

    agents = tuple(make_raw_env(c.env, **c.env_kwargs).agents)
    if not any(name.startswith(ADVERSARY_PREFIX) for name in agents):
        _fail(
            "adversary_algo",
            f"environment {c.env!r} has no agent named {ADVERSARY_PREFIX}* (agents: "
            f"{list(agents)})",
            "use an environment with adversaries (e.g. MPE_simple_adversary_v3, "
            "MPE_simple_tag_v3, MPE_simple_push_v3), or adversary_algo=None",
        )
    return OFFPOLICY_ALGOS[c.adversary_algo]["centralised_critic"]


# The paper's MPE tasks (Lowe et al., 2017, appendix): 2 x 64 ReLU layers, Adam lr 1e-2,
# gamma 0.95, batch 1024, tau 0.01, buffer 1e6, one gradient step per 100 environment
# steps (16 envs x 25 steps = 400 steps per update -> 4 gradient steps), 25-step episodes,
# 25000 episodes. Learning starts as in the reference code (openai/maddpg,
# trainer/maddpg.py `max_replay_buffer_len`): once the buffer holds batch_size *
# max_episode_len = 1024 * 25 = 25600 transitions. Discrete MPE actions use Gumbel-softmax; pass
# env_kwargs={"action_type": "Continuous"} for Gaussian-noise exploration.
MADDPG_TASKS = {
    "spread": "MPE_simple_spread_v3",
    "speaker_listener": "MPE_simple_speaker_listener_v4",
    "reference": "MPE_simple_reference_v3",
    "adversary": "MPE_simple_adversary_v3",
    "tag": "MPE_simple_tag_v3",
    "push": "MPE_simple_push_v3",
}


def _maddpg_preset(algo: str, env: str) -> Config:
    return Config(
        algo=algo,
        env=env,
        total_steps=625_600,
        num_envs=16,
        rollout_length=25,
        updates_per_chunk=4,
        lr=1e-2,
        critic_lr=1e-2,
        max_grad_norm=0.5,
        gamma=0.95,
        hidden_dim=64,
        num_layers=2,
        activation="relu",
        buffer_size=1_000_000,
        batch_size=1024,
        learning_starts=1024 * 25,  # batch_size * episode length (see the comment above)
        gradient_steps=4,
        tau=0.01,
    )


def _check_output(c: Config) -> None:
    """Checkpoint and evaluation cadence: whole chunks, since the host acts between chunks."""
    for name in ("keep_checkpoints", "eval_episodes", "final_eval_episodes"):
        value = getattr(c, name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            _fail(name, f"must be a positive integer, got {value!r}", "use an integer >= 1")
    for name in ("checkpoint_every", "eval_every"):
        value = getattr(c, name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            _fail(name, f"must be an integer >= 0, got {value!r}", "use 0 (off) or a positive int")
        if value % c.updates_per_chunk:
            _fail(
                name,
                f"{value} is not a multiple of updates_per_chunk={c.updates_per_chunk} "
                "(the host saves and evaluates between compiled chunks)",
                f"use a multiple of {c.updates_per_chunk}",
            )
    import jax  # local: validating the rest of a config needs no JAX

    available = jax.device_count()
    devices = available if c.num_devices is None else c.num_devices
    if not isinstance(devices, int) or isinstance(devices, bool) or not 1 <= devices <= available:
        _fail(
            "num_devices",
            f"must be an integer in [1, {available}] (the devices JAX sees), got {c.num_devices!r}",
            f"use None (all {available}) or a number up to it",
        )
    if c.num_envs % devices:
        _fail(
            "num_envs",
            f"{c.num_envs} environments do not split evenly over {devices} devices",
            f"use a multiple of {devices}, or set num_devices to a divisor of {c.num_envs}",
        )


# Named configurations. Sources are given where hyperparameters follow a paper.
presets: dict[str, Config] = {
    # JaxMARL's MPE IPPO/MAPPO baselines use similar batch sizes and learning rates; these
    # two do not follow HARL (see mappo_harl).
    "ippo": Config(algo="ippo"),
    "mappo": Config(algo="mappo"),
}

# HARL's settings (PKU-MARL/HARL, tuned_configs/<family>/<task>/<algo>/config.json), shared
# by every family and algorithm there: ReLU MLPs with feature and layer normalisation
# (harl/models/base/mlp.py), Adam lr 5e-4 (eps 1e-5) for actor and critic, grad-norm clip
# 10, Huber value loss (delta 10) clipped like the ratio (use_clipped_value_loss with
# clip_param), ValueNorm, GAE(0.99, 0.95), advantages standardised, 20 environments x 200
# steps per update, one minibatch, 10M steps. Differences that remain: see README "HARL".
_HARL = dict(
    activation="relu",
    feature_norm=True,
    layer_norm=True,
    lr=5e-4,
    critic_lr=5e-4,
    max_grad_norm=10.0,
    value_loss="huber",
    huber_delta=10.0,
    value_norm=True,
    gamma=0.99,
    gae_lambda=0.95,
    normalize_advantages=True,
    num_envs=20,
    rollout_length=200,
    num_minibatches=1,
    total_steps=10_000_000,
    updates_per_chunk=10,
)
# (preset, algo, HARL config file, that file's settings beyond _HARL)
_HARL_PRESETS = [
    # pettingzoo_mpe/simple_spread_v2-discrete/{happo,hatrpo,mappo}/config.json
    ("happo", "happo", dict(hidden_dim=128, num_layers=2, num_epochs=5, clip_eps=0.2,
                            value_clip_eps=0.2, ent_coef=0.01)),
    ("hatrpo", "hatrpo", dict(hidden_dim=128, num_layers=2, num_epochs=5, value_clip_eps=0.2,
                              kl_threshold=0.005, cg_iters=10, cg_damping=0.1,
                              line_search_steps=10, accept_ratio=0.5, backtrack_coef=0.8)),
    ("mappo_harl", "mappo", dict(hidden_dim=128, num_layers=2, num_epochs=5, clip_eps=0.2,
                                 value_clip_eps=0.2, ent_coef=0.01)),
    # mamujoco/HalfCheetah-v2-2x3/{happo,hatrpo,mappo}/config.json, on harlax's MaMuJoCo.
    # HARL's Gaussian std is 0.5 * sigmoid(x) with x initialised to 1; harlax's is exp(x):
    # the same initial std 0.366 (log -1.006), parametrised differently.
    ("happo_mamujoco", "happo", dict(env="mamujoco:HalfCheetah-2x3", hidden_dim=128,
                                     num_layers=3, num_epochs=15, clip_eps=0.05,
                                     value_clip_eps=0.05, ent_coef=0.01, log_std_init=-1.006)),
    ("hatrpo_mamujoco", "hatrpo", dict(env="mamujoco:HalfCheetah-2x3", hidden_dim=128,
                                       num_layers=3, num_epochs=5, value_clip_eps=0.2,
                                       kl_threshold=0.01, log_std_init=-1.006)),
    ("mappo_mamujoco", "mappo", dict(env="mamujoco:HalfCheetah-2x3", hidden_dim=128,
                                     num_layers=3, num_epochs=15, clip_eps=0.05,
                                     value_clip_eps=0.05, ent_coef=0.01, log_std_init=-1.006)),
]  # fmt: skip
for _name, _algo, _settings in _HARL_PRESETS:
    presets[_name] = Config(algo=_algo, **{**_HARL, **_settings})
# Optimal baseline (Kuba et al., NeurIPS 2021): the base presets with a Q critic and OB.
presets["mappo_ob"] = Config(algo="mappo_ob")
presets["happo_ob"] = presets["happo"].replace(algo="happo_ob")
presets["hatrpo_ob"] = presets["hatrpo"].replace(algo="hatrpo_ob")
presets["coma"] = Config(algo="coma")


presets["maddpg"] = _maddpg_preset("maddpg", MADDPG_TASKS["spread"])
presets["ddpg"] = _maddpg_preset("ddpg", MADDPG_TASKS["spread"])
for _task, _env in MADDPG_TASKS.items():
    presets[f"maddpg_{_task}"] = _maddpg_preset("maddpg", _env)
    presets[f"ddpg_{_task}"] = _maddpg_preset("ddpg", _env)
