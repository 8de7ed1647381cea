"""Greedy evaluation on separate environments, and the marl-eval JSON layout.

Evaluation uses only the learner protocol's greedy acting (`harlax.learner.Learner`:
`greedy_action`, `initial_policy_hidden`, `policy_params`), so it serves every family.
Evaluating a run directory is `harlax.runs.evaluate`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from harlax.compiling import jit
from harlax.learner import Learner
from harlax.types import Array, PyTree

EVAL_SALT = 0x5EED_E7A1  # evaluation keys never collide with training keys
FINAL_EVAL = 2**31 - 1  # the `update` of the final evaluation's keys
MARL_EVAL_FILE = "evaluation.json"
EVAL_STREAM_FILE = "eval.jsonl"


def make_evaluator(env, policy: Learner, num_episodes: int) -> Callable[[PyTree, Array], Array]:
    """`evaluate(policy_params, key) -> (returns [num_episodes], won [num_episodes])` (one
    seed, unbatched params) of a learner's greedy action (`Learner.greedy_action`; only it
    and `initial_policy_hidden` are used).

    Runs `num_episodes` environments side by side with the greedy action until each
    has finished its first episode, and returns those episodes' returns (mean over agents,
    undiscounted) and whether each was won (1.0 / 0.0, the environment's `StepInfo.won`;
    always 0 where it reports no wins). Step `t` uses key `fold_in(step_key, t)`. The loop
    stops after `2 * env.spec.max_steps + 1` steps at the latest; an episode still running
    then is NaN in both.
    """
    n = num_episodes
    batched_step = jax.vmap(env.step)
    max_steps = 2 * env.spec.max_steps + 1

    def step(params, step_key, carry):
        t, env_state, hidden, first, done, ret, won = carry
        hidden, action = policy.greedy_action(params, hidden, env_state.observation, first)
        key = jax.random.fold_in(step_key, t)
        env_state, info = batched_step(jax.random.split(key, n), env_state, action)
        ended = info.terminated | info.truncated
        ret = jnp.where(ended & ~done, info.episode_return, ret)
        won = jnp.where(ended & ~done, info.won, won)
        return t + 1, env_state, hidden, ended, done | ended, ret, won

    def evaluate(policy_params: PyTree, key: Array) -> Array:
        reset_key, step_key = jax.random.split(key)
        env_state = jax.vmap(env.reset)(jax.random.split(reset_key, n))
        carry = (
            jnp.zeros((), jnp.int32),
            env_state,
            policy.initial_policy_hidden(n),
            jnp.ones(n, bool),
            jnp.zeros(n, bool),
            jnp.zeros(n, jnp.float32),
            jnp.zeros(n, bool),
        )
        carry = jax.lax.while_loop(
            lambda c: (c[0] < max_steps) & ~jnp.all(c[4]),
            lambda c: step(policy_params, step_key, c),
            carry,
        )
        done, ret, won = carry[4], carry[5], carry[6]
        return jnp.where(done, ret, jnp.nan), jnp.where(done, won.astype(jnp.float32), jnp.nan)

    return evaluate


def eval_keys(seed: int, num_seeds: int, update: int) -> Array:
    """`[num_seeds]` evaluation keys for the evaluation after `update` updates."""
    base = jax.random.fold_in(jax.random.PRNGKey(seed), EVAL_SALT)
    return jax.vmap(lambda i: jax.random.fold_in(jax.random.fold_in(base, i), update))(
        jnp.arange(num_seeds)
    )


_EVALUATORS: dict[tuple[int, int], tuple[Any, Callable]] = {}


def compile_evaluator(program, num_episodes: int) -> Callable[[PyTree, Array], Array]:
    """jit(vmap over seeds) of `make_evaluator` for a `TrainProgram`'s env and actor:
    `(policy_params [S, ...], keys [S]) -> (returns, won) [S, num_episodes]`. Cached per learner
    and episode count, so repeated runs of one program compile it once."""
    learner = program.learner
    key = (id(learner), num_episodes)
    if key not in _EVALUATORS or _EVALUATORS[key][0] is not learner:
        evaluator = make_evaluator(program.env, learner, num_episodes)
        _EVALUATORS[key] = (learner, jit(jax.vmap(evaluator)))
        while len(_EVALUATORS) > 8:
            _EVALUATORS.pop(next(iter(_EVALUATORS)))
    return _EVALUATORS[key][1]


def evaluate_params(
    params: PyTree, program, episodes: int = 64, update: int | None = None
) -> np.ndarray:
    """Greedy returns `[num_seeds, episodes]` of seed-batched policy parameters of a
    `TrainProgram`, with the evaluation keys of the final evaluation (or of the one after
    `update` updates)."""
    num_seeds = jax.tree.leaves(params)[0].shape[0]
    keys = eval_keys(program.config.seed, num_seeds, FINAL_EVAL if update is None else update)
    returns, _ = compile_evaluator(program, episodes)(params, keys)
    return np.asarray(returns)


def marl_eval_json(
    env: str,
    task: str,
    algo: str,
    seeds: list[int],
    steps: list[tuple[int, np.ndarray]],
    absolute: np.ndarray | None = None,
    wins: list[np.ndarray] | None = None,
    absolute_wins: np.ndarray | None = None,
) -> dict:
    """The marl-eval layout: `{env: {task: {algo: {"seed_<s>": {"step_<i>": {"step_count",
    "return": [per-episode]}, ..., "absolute_metrics": {"return": [...]}}}}}}`.

    `steps`: (env steps, returns `[num_seeds, episodes]`) per evaluation;
    `absolute`: `[num_seeds, episodes]` of the final evaluation. Where the environment
    reports wins, `wins` (one `[num_seeds, episodes]` of 1.0 / 0.0 / NaN per evaluation)
    and `absolute_wins` add `"win_rate": [share of the finished episodes won]` (`[]` when
    none finished) to each step and to the absolute metrics.
    """
    runs = {}
    for s, seed in enumerate(seeds):
        run = {}
        for i, (step_count, returns) in enumerate(steps):
            run[f"step_{i}"] = {"step_count": int(step_count), "return": _finite_list(returns[s])}
            if wins is not None:
                run[f"step_{i}"]["win_rate"] = _win_rate(wins[i][s])
        if absolute is not None:
            run["absolute_metrics"] = {"return": _finite_list(absolute[s])}
            if absolute_wins is not None:
                run["absolute_metrics"]["win_rate"] = _win_rate(absolute_wins[s])
        runs[f"seed_{seed}"] = run
    return {env: {task: {algo: runs}}}


def _finite_list(values: np.ndarray) -> list[float]:
    return [float(v) for v in np.asarray(values) if np.isfinite(v)]


def _win_rate(won: np.ndarray) -> list[float]:
    finished = _finite_list(won)
    return [float(np.mean(finished))] if finished else []


def env_and_task(env_name: str, env_kwargs: dict) -> tuple[str, str]:
    """marl-eval names: environment family and task, e.g. ("MPE", "simple_spread_v3")."""
    if "map_name" in env_kwargs:
        return env_name, str(env_kwargs["map_name"])
    for sep in (":", "_"):
        if sep in env_name:
            family, task = env_name.split(sep, 1)
            return family, task
    return env_name, env_name


def write_marl_eval(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=1))


class Evaluation:
    """The evaluation side of a run: a periodic greedy stream, the best parameters so far
    (per seed, by mean greedy return), and the final "absolute metric".

    Writes `eval.jsonl` (one line per evaluation: update, env_steps, per-seed per-episode
    returns, and where the environment reports wins, `won`: 1 / 0 / null per episode) and,
    at the end of the run, `evaluation.json` in the marl-eval layout, whose
    `absolute_metrics` are the best parameters evaluated on `final_eval_episodes` (with
    `win_rate` entries where the environment reports wins).
    """

    def __init__(self, program, directory: Path | None, start_update: int = 0):
        self.program, self.config, self.directory = program, program.config, directory
        self.evaluator = compile_evaluator(program, self.config.eval_episodes)
        self.history: list[tuple[int, int, np.ndarray]] = []  # (update, env_steps, [S, E])
        self.wins = program.env.spec.win_signal
        self.won: list[np.ndarray] = []  # [S, E] per evaluation, where self.wins
        self.best_params: PyTree = None
        self.best_score: np.ndarray | None = None  # [S]
        self.best_update: np.ndarray | None = None  # [S]
        self.absolute: dict[str, np.ndarray] = {}
        if directory is not None and (directory / EVAL_STREAM_FILE).exists():
            # Resuming: keep the evaluations up to the checkpoint. The best parameters of
            # the earlier part are not in the checkpoint; tracking restarts from here.
            lines = (directory / EVAL_STREAM_FILE).read_text().splitlines()
            kept = [line for line in lines if json.loads(line)["update"] <= start_update]
            for line in kept:
                row = json.loads(line)
                self.history.append(
                    (row["update"], row["env_steps"], np.asarray(row["returns"], np.float64))
                )
                if self.wins:  # a stream written before wins were recorded: unknown (NaN)
                    won = row.get("won", np.full(np.shape(row["returns"]), np.nan))
                    self.won.append(np.asarray(won, np.float64))
            (directory / EVAL_STREAM_FILE).write_text("".join(k + "\n" for k in kept))

    def periodic(self, policy_params: PyTree, update: int, steps_per_update: int) -> np.ndarray:
        """Evaluate the seed-batched `policy_params` after `update` updates: `[S, E]`."""
        num_seeds = self.config.num_seeds
        returns, won = jax.device_get(
            self.evaluator(policy_params, eval_keys(self.config.seed, num_seeds, update))
        )
        returns, won = np.asarray(returns), np.asarray(won)
        env_steps = update * steps_per_update
        self.history.append((update, env_steps, returns))
        row = {"update": update, "env_steps": env_steps, "returns": _nan_to_none(returns)}
        if self.wins:
            self.won.append(won)
            row["won"] = _nan_to_none(won)
        if self.directory is not None:
            with (self.directory / EVAL_STREAM_FILE).open("a") as f:
                f.write(json.dumps(row) + "\n")
        with np.errstate(invalid="ignore"):
            score = np.nanmean(np.where(np.isfinite(returns), returns, np.nan), axis=1)
        score = np.where(np.isfinite(score), score, -np.inf)
        host = jax.device_get(policy_params)
        if self.best_score is None:
            self.best_params, self.best_score = host, score
            self.best_update = np.full(num_seeds, update)
        else:
            better = score > self.best_score
            self.best_params = jax.tree.map(
                lambda new, old: np.where(better.reshape((-1,) + (1,) * (new.ndim - 1)), new, old),
                host,
                self.best_params,
            )
            self.best_score = np.where(better, score, self.best_score)
            self.best_update = np.where(better, update, self.best_update)
        return returns

    def final(self, policy_params: PyTree, env_steps: int) -> None:
        """Absolute metric: the best and the last parameters on `final_eval_episodes`."""
        c = self.config
        evaluator = compile_evaluator(self.program, c.final_eval_episodes)
        keys = eval_keys(c.seed, c.num_seeds, FINAL_EVAL)
        best = policy_params if self.best_params is None else self.best_params
        (best_returns, best_won), (last_returns, last_won) = jax.device_get(
            (evaluator(best, keys), evaluator(policy_params, keys))
        )
        self.absolute = {"best": np.asarray(best_returns), "last": np.asarray(last_returns)}
        if self.wins:
            self.absolute["best_won"] = np.asarray(best_won)
            self.absolute["last_won"] = np.asarray(last_won)
        if self.directory is not None:
            env, task = env_and_task(c.env, c.env_kwargs)
            seeds = [c.seed + i for i in range(c.num_seeds)]
            steps = [(s, r) for _, s, r in self.history]
            won = self.won
            if not steps:
                steps, won = [(env_steps, self.absolute["last"])], [self.absolute.get("last_won")]
            write_marl_eval(
                self.directory / MARL_EVAL_FILE,
                marl_eval_json(
                    env,
                    task,
                    c.algo,
                    seeds,
                    steps,
                    self.absolute["best"],
                    won if self.wins else None,
                    self.absolute.get("best_won"),
                ),
            )

    def summary(self) -> dict[str, Any]:
        """`updates [N]`, `returns [S, N]` (mean greedy return per evaluation),
        `best_update [S]`, `absolute_best`/`absolute_last` `[S, final_eval_episodes]`; where
        the environment reports wins also `win_rate [S, N]` (share of finished episodes won
        per evaluation; NaN where none finished)."""
        with np.errstate(invalid="ignore"):
            means = [np.nanmean(r, axis=1) for _, _, r in self.history]
        return {
            "updates": np.array([u for u, _, _ in self.history], int),
            "returns": np.stack(means, axis=1) if means else np.zeros((self.config.num_seeds, 0)),
            "best_update": self.best_update,
            "absolute_best": self.absolute.get("best"),
            "absolute_last": self.absolute.get("last"),
            **({"win_rate": self._win_rates()} if self.wins else {}),
        }

    def _win_rates(self) -> np.ndarray:
        with np.errstate(invalid="ignore"):
            rates = [np.nanmean(w, axis=1) for w in self.won]
        return np.stack(rates, axis=1) if rates else np.zeros((self.config.num_seeds, 0))


def _nan_to_none(values: np.ndarray) -> list:
    return [[None if not np.isfinite(v) else float(v) for v in row] for row in values]
