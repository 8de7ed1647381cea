"""The one frozen configuration of a training run and its JSON round-trip.

`Config` holds what a user chooses. What follows from it (number of updates, batch sizes,
the resolved learner choices) is `harlax.validation.Derived`, computed by
`harlax.validation.derive`; the names each field chooses from are in `harlax.choices`, the
named configurations in `harlax.named_configs`. Nothing mutates a config at run time.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from harlax.validation import Derived


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
    agent_ids: bool = True
    """Nets shared by all agents (the actor with share_params, the per-agent V critic) see
    the one-hot agent id beside their input. False: they see the observation or state
    alone, as JaxMARL's IPPO and MAPPO baselines do; agents then differ only by what they
    observe. The central Q critic always sees the id (its heads value the agent's own
    action)."""
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
    team_critic: str | None = None
    """A central V critic of the environment step instead of one value per agent: V(s)
    from the global state alone (no agent id), trained on the team reward, the agents'
    rewards combined by "sum" or "mean", whose GAE advantage every agent gets. HARL's
    `state_type: EP` (its PettingZoo MPE reward is the agents' sum; its MaMuJoCo and SMAC
    rewards are one team reward, i.e. "mean" of equal rewards). A per-step critic has no
    per-agent activity, so use_value_active_masks does not apply. None: one value per
    agent from the global state and its one-hot id, on its own reward."""

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
        """Check every field and combination, the environment name and the devices; return
        the derived values (`harlax.validation.Derived`).

        Raises ValueError naming the field and the fix. Runs before any compilation.
        """
        from harlax.checks import check  # local: this module imports nothing of harlax

        return check(self)
