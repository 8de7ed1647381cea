"""Greedy evaluation against independent references, the marl-eval layout, and the
evaluation stream of a training run."""

from __future__ import annotations

import functools
import json
from types import SimpleNamespace

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from opsutil import TINY_REAL, Constant, DuelEnv

import harlax
from harlax.distributions import CategoricalHead
from harlax.envs.jaxmarl import JaxMARLAdapter
from harlax.envs.matrix import GAMES
from harlax.evaluate import MARL_EVAL_FILE, Evaluation, env_and_task, make_evaluator, marl_eval_json
from harlax.layout import agent_major, batch_major
from harlax.nets import AgentNet
from harlax.rollout import mode_action


def _greedy_action(learner, params, hidden, obs, first):
    hidden, out = learner.actor.apply_all(
        params, jnp.swapaxes(hidden, 0, 1), agent_major(obs.obs[None]), first[None]
    )
    return jnp.swapaxes(hidden, 0, 1), learner.head.mode(batch_major(out), obs.avail[None])[0]


def test_matrix_game_greedy_return_is_the_payoff_of_the_argmax_actions():
    program = harlax.make_train(TINY_REAL)
    learner = program.learner
    params = learner.actor.init(jax.random.PRNGKey(3))
    returns, won = make_evaluator(program.env, learner, 5)(params, jax.random.PRNGKey(0))
    np.testing.assert_array_equal(won, 0.0)  # no win signal: never won
    obs = program.env.reset(jax.random.PRNGKey(0)).observation
    _, out = learner.actor.apply_all(
        params, jnp.zeros((2, 1, 0)), obs.obs[:, None, None], jnp.ones((1, 1), bool)
    )
    joint = tuple(int(np.argmax(out[i, 0, 0])) for i in range(2))  # closed form: argmax logits
    np.testing.assert_allclose(returns, np.full(5, GAMES["climbing"][joint]), rtol=1e-6)


@pytest.mark.slow
def test_multi_step_episodes_match_a_python_loop():
    """MPE (25-step episodes), recurrent actor: the scanned evaluator against a plain loop
    over time and environments that stops each environment at its first episode end."""
    config = TINY_REAL.replace(env="MPE_simple_spread_v3", recurrent=True, num_seeds=1)
    program = harlax.make_train(config)
    learner, env, n = program.learner, program.env, 3
    params = learner.actor.init(jax.random.PRNGKey(1))
    key = jax.random.PRNGKey(7)
    returns = np.asarray(make_evaluator(env, learner, n)(params, key)[0])

    reset_key, step_key = jax.random.split(key)
    act = jax.jit(lambda h, o, f: _greedy_action(learner, params, h, o, f))
    step = jax.jit(env.step)
    expected = []
    for i in range(n):
        state = env.reset(jax.random.split(reset_key, n)[i])
        hidden, first, total = learner.actor.initial_hidden(1), jnp.ones(1, bool), np.nan
        for t in range(env.spec.max_steps + 1):
            hidden, action = act(hidden, state.observation, first)
            state, info = step(
                jax.random.split(jax.random.fold_in(step_key, t), n)[i], state, action
            )
            first = (info.terminated | info.truncated)[None]
            if bool(first[0]):
                total = float(info.episode_return)
                break
        expected.append(total)
    assert np.isfinite(expected).all()
    np.testing.assert_allclose(returns, expected, rtol=1e-5, atol=1e-5)


def test_marl_eval_layout():
    steps = [(64, np.array([[1.0, 2.0], [3.0, np.nan]])), (128, np.array([[4.0, 5.0], [6.0, 7.0]]))]
    data = marl_eval_json(
        "MPE", "simple_spread_v3", "mappo", [10, 11], steps, absolute=np.array([[8.0], [9.0]])
    )
    runs = data["MPE"]["simple_spread_v3"]["mappo"]
    assert sorted(runs) == ["seed_10", "seed_11"]
    assert runs["seed_10"]["step_1"] == {"step_count": 128, "return": [4.0, 5.0]}
    assert runs["seed_11"]["step_0"]["return"] == [3.0]  # unfinished episodes are left out
    assert runs["seed_11"]["absolute_metrics"] == {"return": [9.0]}
    assert "win_rate" not in runs["seed_10"]["step_0"]  # no win signal, no win rate
    won = [np.array([[1.0, 0.0], [np.nan, np.nan]]), np.array([[1.0, 1.0], [0.0, 1.0]])]
    data = marl_eval_json(
        "SMAX",
        "3m",
        "mappo",
        [10, 11],
        steps,
        np.array([[8.0], [9.0]]),
        won,
        np.array([[1.0], [np.nan]]),
    )
    runs = data["SMAX"]["3m"]["mappo"]
    assert runs["seed_10"]["step_0"]["win_rate"] == [0.5]
    assert runs["seed_11"]["step_0"]["win_rate"] == []  # no finished episode
    assert runs["seed_11"]["step_1"]["win_rate"] == [0.5]
    assert runs["seed_10"]["absolute_metrics"]["win_rate"] == [1.0]
    assert runs["seed_11"]["absolute_metrics"]["win_rate"] == []
    assert env_and_task("MPE_simple_spread_v3", {}) == ("MPE", "simple_spread_v3")
    assert env_and_task("SMAX", {"map_name": "3m"}) == ("SMAX", "3m")
    assert env_and_task("matrix:climbing", {}) == ("matrix", "climbing")


@pytest.mark.slow
def test_training_run_writes_an_evaluation_stream_and_absolute_metric(tmp_path):
    config = TINY_REAL.replace(
        eval_every=2, eval_episodes=4, final_eval_episodes=6, out=str(tmp_path / "run")
    )
    result = harlax.train(config)
    lines = [json.loads(x) for x in (tmp_path / "run/eval.jsonl").read_text().splitlines()]
    assert [x["update"] for x in lines] == [2, 4]
    assert [x["env_steps"] for x in lines] == [128, 256]
    assert np.asarray(lines[0]["returns"]).shape == (2, 4)  # [seeds, episodes]
    summary = result.evaluation
    assert summary["returns"].shape == (2, 2)
    assert set(summary["best_update"].tolist()) <= {2, 4}
    assert summary["absolute_best"].shape == (2, 6)
    data = json.loads((tmp_path / "run/evaluation.json").read_text())
    run = data["matrix"]["climbing"]["mappo"]["seed_1"]
    assert run["step_1"]["step_count"] == 256
    assert len(run["absolute_metrics"]["return"]) == 6
    # Greedy play in a one-step game is deterministic: every episode scores the same, and
    # harlax.evaluate of the directory (latest checkpoint = last parameters) agrees.
    again = harlax.evaluate(config.out, episodes=3)
    assert again.shape == (2, 3)
    for seed in range(2):
        np.testing.assert_allclose(again[seed], summary["absolute_last"][seed, 0], rtol=1e-6)
        assert np.ptp(summary["absolute_last"][seed]) == 0


@pytest.mark.parametrize("favour", [0, 1])
def test_greedy_wins_are_reported_and_written_to_evaluation_json(tmp_path, favour):
    """DuelEnv: the greedy action 1 wins every episode (return 1), action 0 loses them all
    (return 0). The per-episode `won` of the evaluator, eval.jsonl's `won` and the
    `win_rate` of evaluation.json (steps and absolute metrics) all say so."""
    env = JaxMARLAdapter(DuelEnv())
    actor = AgentNet(Constant(favour), 2, True, 1, 0)
    head = CategoricalHead()
    params = actor.init(jax.random.PRNGKey(0))
    policy = SimpleNamespace(  # the two methods of the learner protocol the evaluator uses
        greedy_action=functools.partial(mode_action, actor, head),
        initial_policy_hidden=actor.initial_hidden,
    )
    returns, won = make_evaluator(env, policy, 3)(params, jax.random.PRNGKey(1))
    np.testing.assert_array_equal(won, float(favour))
    np.testing.assert_array_equal(won, returns)  # reward 1 exactly when won

    config = harlax.Config(
        env="SMAX", env_kwargs={"map_name": "duel"}, eval_episodes=3, final_eval_episodes=4
    )
    evaluation = Evaluation(SimpleNamespace(config=config, env=env, learner=policy), tmp_path)
    seeded = jax.tree.map(lambda x: x[None], params)  # one seed
    evaluation.periodic(seeded, 2, 64)
    evaluation.final(seeded, 128)
    line = json.loads((tmp_path / "eval.jsonl").read_text())
    assert line["won"] == [[float(favour)] * 3]
    run = json.loads((tmp_path / MARL_EVAL_FILE).read_text())["SMAX"]["duel"]["mappo"]["seed_0"]
    assert run["step_0"]["win_rate"] == [float(favour)]
    assert run["absolute_metrics"]["win_rate"] == [float(favour)]
    assert len(run["absolute_metrics"]["return"]) == 4
    np.testing.assert_array_equal(evaluation.summary()["win_rate"], [[float(favour)]])
