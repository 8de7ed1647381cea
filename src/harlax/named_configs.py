"""Named configurations (`harlax presets` lists them). Sources are given where the
hyperparameters follow a paper or a reference implementation."""

from __future__ import annotations

from harlax.config import Config

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
    # pettingzoo_mpe/simple_spread_v2-discrete/{happo,hatrpo,mappo}/config.json; HARL's
    # PettingZoo MPE critic is V(s) of the step (state_type EP) on the agents' summed reward.
    ("happo", "happo", dict(hidden_dim=128, num_layers=2, num_epochs=5, clip_eps=0.2,
                            value_clip_eps=0.2, ent_coef=0.01, team_critic="sum")),
    ("hatrpo", "hatrpo", dict(hidden_dim=128, num_layers=2, num_epochs=5, value_clip_eps=0.2,
                              kl_threshold=0.005, cg_iters=10, cg_damping=0.1,
                              line_search_steps=10, accept_ratio=0.5, backtrack_coef=0.8,
                              team_critic="sum")),
    ("mappo_harl", "mappo", dict(hidden_dim=128, num_layers=2, num_epochs=5, clip_eps=0.2,
                                 value_clip_eps=0.2, ent_coef=0.01, team_critic="sum")),
    # mamujoco/HalfCheetah-v2-2x3/{happo,hatrpo,mappo}/config.json, on harlax's MaMuJoCo.
    # HARL's MaMuJoCo critic is V(s) of the step too (state_type EP); every agent's reward
    # is the team reward, so the team's is their mean. HARL's Gaussian std is
    # 0.5 * sigmoid(x) with x initialised to 1; harlax's is exp(x): the same initial std
    # 0.366 (log -1.006), parametrised differently.
    ("happo_mamujoco", "happo", dict(env="mamujoco:HalfCheetah-2x3", hidden_dim=128,
                                     num_layers=3, num_epochs=15, clip_eps=0.05,
                                     value_clip_eps=0.05, ent_coef=0.01, log_std_init=-1.006,
                                     team_critic="mean")),
    ("hatrpo_mamujoco", "hatrpo", dict(env="mamujoco:HalfCheetah-2x3", hidden_dim=128,
                                       num_layers=3, num_epochs=5, value_clip_eps=0.2,
                                       kl_threshold=0.01, log_std_init=-1.006,
                                       team_critic="mean")),
    ("mappo_mamujoco", "mappo", dict(env="mamujoco:HalfCheetah-2x3", hidden_dim=128,
                                     num_layers=3, num_epochs=15, clip_eps=0.05,
                                     value_clip_eps=0.05, ent_coef=0.01, log_std_init=-1.006,
                                     team_critic="mean")),
]  # fmt: skip
for _name, _algo, _settings in _HARL_PRESETS:
    presets[_name] = Config(algo=_algo, **{**_HARL, **_settings})
# Optimal baseline (Kuba et al., NeurIPS 2021): the base presets with a Q critic and OB.
presets["mappo_ob"] = Config(algo="mappo_ob")
# (The Q critic is one per agent: the team critic stays with the V-critic presets.)
presets["happo_ob"] = presets["happo"].replace(algo="happo_ob", team_critic=None)
presets["hatrpo_ob"] = presets["hatrpo"].replace(algo="hatrpo_ob", team_critic=None)
presets["coma"] = Config(algo="coma")


presets["maddpg"] = _maddpg_preset("maddpg", MADDPG_TASKS["spread"])
presets["ddpg"] = _maddpg_preset("ddpg", MADDPG_TASKS["spread"])
for _task, _env in MADDPG_TASKS.items():
    presets[f"maddpg_{_task}"] = _maddpg_preset("maddpg", _env)
    presets[f"ddpg_{_task}"] = _maddpg_preset("ddpg", _env)
