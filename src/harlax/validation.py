"""Validation of a Config's fields and their combinations, and what follows from them.

`derive(config) -> Derived` raises ValueError naming the field and the fix, before anything
is built or compiled. It reads only the config: the environment name and the devices are
checked where those are made (`harlax.checks.check` runs all three).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from harlax.choices import (
    ACTIVATIONS,
    ALGOS,
    BASELINES,
    CRITICS,
    OFFPOLICY_ALGOS,
    Q_SIGNALS,
    SCHEMES,
    STEPS,
    TEAM_REWARDS,
    V_BASELINES,
    VALUE_LOSSES,
)
from harlax.names import did_you_mean

if TYPE_CHECKING:
    from harlax.config import Config


@dataclass(frozen=True)
class Derived:
    """Values that follow from a Config. Never edited by hand."""

    steps_per_update: int
    num_updates: int
    updates_per_chunk: int
    """The chunk length the run compiles: Config.updates_per_chunk, or the whole run when
    that is shorter."""
    minibatch_size: int
    """On-policy: samples (sequences when recurrent) per minibatch; off-policy: batch_size."""
    family: str = "onpolicy"
    """"onpolicy" (harlax.algos.onpolicy) or "offpolicy" (MADDPG / DDPG, algos/maddpg.py)."""
    critic: str | None = None
    """On-policy: local_v, central_v or central_q (None off-policy; see centralised_critic)."""
    baseline: str | None = None
    """On-policy: gae, ob, coma or none."""
    scheme: str | None = None
    """On-policy: simultaneous or sequential."""
    step: str | None = None
    """On-policy: clip or trust_region."""
    share_params: bool = False
    q_signal: str | None = None
    """Q critic only: "return" or "critic" (see Config.q_signal); None for V critics."""
    centralised_critic: bool = True
    """Off-policy only: Q_i(x, a_1..a_N) instead of Q_i(o_i, a_i) (with adversary_algo: the
    choice of the agents that are not adversaries)."""
    adversary_centralised_critic: bool | None = None
    """Off-policy cross-play only: the adversary agents' choice (None: centralised_critic)."""

    @property
    def chunk_lengths(self) -> tuple[int, ...]:
        """Updates per chunk, in order: whole chunks, then a shorter last one if the run's
        updates do not divide into chunks."""
        whole, rest = divmod(self.num_updates, self.updates_per_chunk)
        return (self.updates_per_chunk,) * whole + ((rest,) if rest else ())


def _fail(field_name: str, problem: str, fix: str) -> None:
    raise ValueError(f"Config.{field_name}: {problem}. Fix: {fix}")


def _check_choice(field_name: str, value: Any, valid: tuple[str, ...]) -> None:
    if value not in valid:
        _fail(
            field_name,
            f"unknown value {value!r}{did_you_mean(value, valid)}",
            f"use one of {list(valid)}",
        )


def _check_positive_ints(c: Config, names: list[str]) -> None:
    for name in names:
        value = getattr(c, name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            _fail(name, f"must be a positive integer, got {value!r}", "use an integer >= 1")


# Fields that only some learners read (harlax.algos.onpolicy, harlax.algos.maddpg). Set to a
# value other than its default where the chosen learner ignores it, a field is refused:
# a run must never silently differ from what its config says.
OFFPOLICY_FIELDS = tuple(
    (
        "buffer_size batch_size learning_starts gradient_steps tau exploration_noise "
        "gumbel_temperature gumbel_hard action_reg centralised_critic adversary_algo "
        "infer_policies inference_ent_coef ensemble_size"
    ).split()
)
TRUST_REGION_FIELDS = tuple(
    ("kl_threshold cg_iters cg_damping line_search_steps accept_ratio backtrack_coef").split()
)
CLIP_FIELDS = ("lr", "clip_eps", "ent_coef")  # the PPO actor's (the critic's are its own)
ONPOLICY_FIELDS = (
    tuple(
        (
            "critic baseline scheme step share_params agent_ids fixed_order num_epochs "
            "num_minibatches anneal_lr gae_lambda value_clip_eps value_loss huber_delta value_norm "
            "normalize_advantages use_policy_active_masks use_value_active_masks team_critic "
            "q_signal ob_samples grad_variance_splits clip_eps ent_coef"
        ).split()
    )
    + TRUST_REGION_FIELDS
)


def _check_ignored(c: Config, ignored: tuple[str, ...], why: str, fix: str) -> None:
    """Refuse a field of `ignored` that is set to anything but its default."""
    defaults = type(c)()
    for name in ignored:
        if getattr(c, name) != getattr(defaults, name):
            _fail(
                name,
                f"{why} ignores it, but it is set to {getattr(c, name)!r}",
                f"leave it at its default {getattr(defaults, name)!r}, or {fix}",
            )


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


def _check_agent_ids(c: Config, point: dict[str, Any]) -> None:
    """agent_ids is a bool, and False must reach a net that would see the id."""
    if not isinstance(c.agent_ids, bool):
        _fail("agent_ids", f"must be True or False, got {c.agent_ids!r}", "use True or False")
    if c.agent_ids:
        return
    if point["critic"] == "central_q":
        _fail(
            "agent_ids",
            "the central Q critic needs the agent id: its heads value the agent's own action",
            "leave agent_ids=True, or use a V critic (critic='local_v' or 'central_v')",
        )
    if not point["share_params"] and c.team_critic is not None:
        _fail(
            "agent_ids",
            "no net sees an agent id here (one actor per agent, and the team critic V(s))",
            "leave agent_ids=True, or set share_params=True",
        )


def _check_budget(c: Config) -> tuple[int, int]:
    """`(steps_per_update, num_updates)`; the budget must be whole updates (a run whose
    updates do not divide into chunks runs a shorter last chunk, see `Derived`)."""
    steps_per_update = c.num_envs * c.rollout_length
    if c.total_steps % steps_per_update:
        lower = (c.total_steps // steps_per_update) * steps_per_update
        _fail(
            "total_steps",
            f"{c.total_steps} is not a whole number of updates of num_envs * rollout_length "
            f"= {steps_per_update} steps",
            f"use {lower or steps_per_update} or {lower + steps_per_update}",
        )
    return steps_per_update, c.total_steps // steps_per_update


def derive(config: Config) -> Derived:
    """Validate `config` and compute the derived values (see `Derived`)."""
    c = config
    _check_choice("algo", c.algo, tuple(ALGOS) + tuple(OFFPOLICY_ALGOS))
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
    _check_ignored(
        c, OFFPOLICY_FIELDS, f"the on-policy learner (algo {c.algo!r})", "use algo='maddpg'"
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
    if point["step"] == "clip":
        _check_ignored(c, TRUST_REGION_FIELDS, "the PPO clip step", "use step='trust_region'")
    else:
        _check_ignored(
            c, CLIP_FIELDS, "the trust-region step (no actor optimiser)", "use step='clip'"
        )
    if point["scheme"] != "sequential":
        _check_ignored(c, ("fixed_order",), "the simultaneous scheme", "use scheme='sequential'")
    if point["critic"] != "central_q":
        _check_ignored(c, ("ob_samples",), "a V critic", "use critic='central_q'")
    if c.team_critic is not None:
        _check_choice("team_critic", c.team_critic, TEAM_REWARDS)
        if point["critic"] != "central_v":
            _fail(
                "team_critic",
                f"a team critic is a central V critic V(s), not critic {point['critic']!r}",
                "set critic='central_v' (e.g. algo='mappo', 'happo' or 'hatrpo'), or "
                "team_critic=None",
            )
    if point["scheme"] == "sequential" and point["share_params"]:
        _fail(
            "share_params",
            "the sequential scheme needs one policy per agent: its improvement guarantee is "
            "about distinct agents' policies updated one after another, and a shared policy "
            "would be changed again by every later agent",
            "set share_params=False, or use scheme='simultaneous'",
        )

    _check_agent_ids(c, point)
    _check_positive_ints(
        c,
        (
            "num_seeds total_steps num_envs rollout_length num_epochs num_minibatches "
            "updates_per_chunk hidden_dim num_layers cg_iters line_search_steps"
        ).split(),
    )
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
        steps_per_update=steps_per_update,
        num_updates=num_updates,
        updates_per_chunk=min(c.updates_per_chunk, num_updates),
        minibatch_size=minibatch_size,
        critic=point["critic"],
        baseline=point["baseline"],
        scheme=point["scheme"],
        step=point["step"],
        share_params=bool(point["share_params"]),
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
    """Validate the fields MADDPG / DDPG use; an on-policy field set away from its default
    is refused."""
    c = config
    _check_choice("activation", c.activation, ACTIVATIONS)
    if c.recurrent:
        _fail(
            "recurrent", "MADDPG / DDPG use feed-forward actors and critics", "set recurrent=False"
        )
    _check_positive_ints(
        c,
        (
            "num_seeds total_steps num_envs rollout_length updates_per_chunk "
            "hidden_dim num_layers buffer_size batch_size learning_starts "
            "gradient_steps ensemble_size"
        ).split(),
    )
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
    _check_ignored(
        c, ONPOLICY_FIELDS, f"the off-policy learner (algo {c.algo!r})", "use an on-policy algo"
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
        steps_per_update=steps_per_update,
        num_updates=num_updates,
        updates_per_chunk=min(c.updates_per_chunk, num_updates),
        minibatch_size=c.batch_size,
        family="offpolicy",
        centralised_critic=central,
        adversary_centralised_critic=adversary_central,
    )


def _check_adversary_algo(c: Config) -> bool | None:
    """Cross-play: the adversaries' critic choice (None without `adversary_algo`). Whether
    the environment has adversaries is checked where it is made (`harlax.checks`)."""
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
    return OFFPOLICY_ALGOS[c.adversary_algo]["centralised_critic"]


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
