"""MADDPG / DDPG (algos/maddpg.py): targets, gradients, buffer, critics, inference, e2e."""

import csv
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from opsutil import tiny_fields

import harlax
from harlax.algos.maddpg import (
    MADDPGLearner,
    critic_centralised,
    make_replay_buffer,
    polyak,
    td_target,
)
from harlax.envs.registry import make_env
from harlax.types import Observation, Replay
from harlax.validation import derive

TINY = tiny_fields(
    onpolicy=False,
    num_envs=2,
    rollout_length=4,
    total_steps=8,
    hidden_dim=8,
    num_layers=1,
    activation="tanh",
    buffer_size=64,
    batch_size=8,
    learning_starts=8,
)
MADDPG_ENV = "MPE_simple_adversary_v3"
ADVERSARY = dict(env="MPE_simple_adversary_v3", env_kwargs={"action_type": "Continuous"})


@functools.cache
def cached_env(name: str, action_type: str | None):
    return make_env(name, **({"action_type": action_type} if action_type else {}))


def make_learner(**overrides) -> MADDPGLearner:
    config = harlax.Config(**{"algo": "maddpg", **ADVERSARY, **TINY, **overrides})
    env = cached_env(config.env, config.env_kwargs.get("action_type"))
    return MADDPGLearner(config, derive(config), env)


@pytest.fixture(scope="module")
def central():
    return make_learner(gamma=0.9, action_reg=0.01)


def random_batch(learner: MADDPGLearner, n: int, seed: int) -> Replay:
    """Random joint transitions with zero padding where agents' observations are shorter."""
    spec = learner.spec
    rng = np.random.default_rng(seed)
    obs_mask = np.arange(spec.obs_dim)[None, :] < np.asarray(spec.obs_dims)[:, None]
    mask = spec.action_mask()

    def observation():
        obs = rng.normal(size=(n, spec.num_agents, spec.obs_dim)) * obs_mask
        return Observation(
            obs=jnp.asarray(obs, jnp.float32),
            state=jnp.asarray(rng.normal(size=(n, spec.state_dim)), jnp.float32),
            avail=jnp.broadcast_to(jnp.asarray(mask), (n,) + mask.shape),
        )

    action = rng.uniform(size=(n, spec.num_agents, spec.action_dim)) * mask
    return Replay(
        obs=observation(),
        action=jnp.asarray(action, jnp.float32),
        reward=jnp.asarray(rng.normal(size=(n, spec.num_agents)), jnp.float32),
        next_obs=observation(),
        terminated=jnp.asarray(np.arange(n) % 3 == 0),
        sub_policy=jnp.zeros((n, spec.num_agents), jnp.int32),
    )


# ---------------------------------------------------------------- numpy reference
def np_mlp(params, agent: int, x: np.ndarray) -> np.ndarray:
    """The flax Torso + final Dense of one agent's stacked params, in float64 numpy."""
    p = jax.tree.map(lambda v: np.asarray(v[agent], np.float64), params)["params"]
    h = x
    for layer in range(len(p["Torso_0"])):
        dense = p["Torso_0"][f"Dense_{layer}"]
        h = np.tanh(h @ dense["kernel"] + dense["bias"])
    return h @ p["Dense_0"]["kernel"] + p["Dense_0"]["bias"]


def np_action(learner, params, agent: int, obs: np.ndarray) -> np.ndarray:
    low, high = np.asarray(learner.spec.action_low), np.asarray(learner.spec.action_high)
    return low + (high - low) * 0.5 * (np.tanh(np_mlp(params, agent, obs)) + 1.0)


def np_q(critic, agent: int, state: np.ndarray, joint: np.ndarray) -> float:
    return float(np_mlp(critic, agent, np.concatenate([state, joint.ravel()]))[0])


def test_td_target_by_hand():
    reward = jnp.array([[1.0, -1.0]])
    next_q = jnp.array([[2.0, 4.0]])
    got = td_target(reward, jnp.array([False, True]), next_q, 0.5)
    np.testing.assert_allclose(np.asarray(got), [[2.0, -1.0]])


def test_critic_target_matches_numpy(central):
    learner = central
    keys = jax.random.split(jax.random.PRNGKey(0), 2)
    target_actor, target_critic = learner.actor.init(keys[0]), learner.critic.init(keys[1])
    batch = random_batch(learner, 5, seed=0)

    @jax.jit
    def target(batch):
        joint = learner.target_joint(
            target_actor, (), batch.next_obs, batch.sub_policy, jax.random.PRNGKey(1)
        )
        next_q = learner.q_values(target_critic, batch.next_obs, joint)
        return td_target(batch.reward.T, batch.terminated, next_q, learner.config.gamma)

    got = np.asarray(target(batch))

    want = np.zeros((learner.num_agents, 5))
    for n in range(5):
        obs = np.asarray(batch.next_obs.obs[n], np.float64)
        actions = np.stack(
            [np_action(learner, target_actor, j, obs[j]) for j in range(learner.num_agents)]
        )
        for i in range(learner.num_agents):
            q = np_q(target_critic, i, np.asarray(batch.next_obs.state[n]), actions)
            bootstrap = 0.0 if bool(batch.terminated[n]) else q
            want[i, n] = float(batch.reward[n, i]) + 0.9 * bootstrap
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_actor_gradient_matches_finite_differences_of_numpy_objective(central):
    """d/dtheta_i of -mean_n Q_i(x, a_1.., mu_i(o_i), ..a_N) + reg, against a float64
    central difference of an independent numpy implementation."""
    learner = central
    keys = jax.random.split(jax.random.PRNGKey(2), 2)
    actor, critic = learner.actor.init(keys[0]), learner.critic.init(keys[1])
    batch = random_batch(learner, 6, seed=1)
    grads = jax.jit(jax.grad(lambda p: learner.actor_loss(p, critic, batch, keys[0])[0]))(actor)

    def np_loss(params) -> float:
        total = 0.0
        for i in range(learner.num_agents):
            qs, regs = [], []
            for n in range(6):
                obs = np.asarray(batch.obs.obs[n, i], np.float64)
                raw = np_mlp(params, i, obs)
                joint = np.asarray(batch.action[n], np.float64).copy()
                joint[i] = np_action(learner, params, i, obs)
                qs.append(np_q(critic, i, np.asarray(batch.obs.state[n]), joint))
                regs.append(np.mean(raw**2))
            total += -np.mean(qs) + learner.config.action_reg * np.mean(regs)
        return total

    eps = 1e-5

    def get(params, path):
        node = params["params"]
        for name in path:
            node = node[name]
        return node

    for agent, path, index in [
        (0, ("Dense_0", "kernel"), (2, 1)),
        (2, ("Torso_0", "Dense_0", "kernel"), (3, 4)),
        (1, ("Dense_0", "bias"), (0,)),
    ]:
        values = []
        for sign in (1, -1):
            shifted = jax.tree.map(lambda v: np.asarray(v, np.float64).copy(), actor)
            get(shifted, path)[(agent,) + index] += sign * eps
            values.append(np_loss(shifted))
        want = (values[0] - values[1]) / (2 * eps)
        got = float(get(grads, path)[(agent,) + index])
        assert abs(got - want) < 1e-4 + 1e-3 * abs(want), (agent, path, got, want)


def test_polyak_arithmetic():
    online, target = {"w": jnp.array([1.0, -2.0])}, {"w": jnp.array([3.0, 2.0])}
    np.testing.assert_allclose(np.asarray(polyak(online, target, 0.25)["w"]), [2.5, 1.0])
    np.testing.assert_allclose(np.asarray(polyak(online, target, 1.0)["w"]), [1.0, -2.0])


def test_buffer_is_filled_and_sampled_inside_jit_never_returning_unwritten_slots():
    config = harlax.Config(
        algo="maddpg",
        buffer_size=16,
        batch_size=4,
        learning_starts=6,
        num_envs=2,
        rollout_length=8,
        total_steps=16,
        updates_per_chunk=1,
    )
    derive(config)
    buffer = make_replay_buffer(config)

    @jax.jit
    def run(key):
        state = buffer.init({"marker": jnp.zeros(())})
        out = []
        for first, count in ((1, 5), (6, 5), (11, 10)):  # 5, 10, then 20 items (wraps)
            state = buffer.add(state, {"marker": jnp.arange(first, first + count, dtype=float)})
            samples = jax.vmap(lambda k, s=state: buffer.sample(s, k).experience["marker"])(
                jax.random.split(jax.random.fold_in(key, first), 200)
            )
            out.append((buffer.can_sample(state), samples))
        return out

    (ok5, _), (ok10, s10), (ok20, s20) = run(jax.random.PRNGKey(0))
    assert not bool(ok5) and bool(ok10) and bool(ok20)
    assert set(np.unique(np.asarray(s10))) == set(range(1, 11))
    # After wrapping, the 16 most recent items (5..20) are the only ones that can come back.
    assert set(np.unique(np.asarray(s20))) == set(range(5, 21))


def test_centralised_critic_sees_other_agents_actions_decentralised_does_not(central):
    batch = random_batch(central, 4, seed=2)
    a = central.num_agents
    joint = jnp.broadcast_to(batch.action[None], (a,) + batch.action.shape)
    changed = joint.at[:, :, 1].set(1.0 - joint[:, :, 1])  # agent 1's action, every critic
    for learner, others_matter in ((central, True), (make_learner(algo="ddpg"), False)):
        params = learner.critic.init(jax.random.PRNGKey(3))
        q_values = jax.jit(learner.q_values)
        before = np.asarray(q_values(params, batch.obs, joint))
        after = np.asarray(q_values(params, batch.obs, changed))
        assert np.abs(before[1] - after[1]).min() > 1e-6  # agent 1's own critic
        assert (np.abs(before[0] - after[0]).min() > 1e-6) == others_matter
        if not others_matter:
            np.testing.assert_array_equal(before[[0, 2]], after[[0, 2]])


def _first_kernel_rows(params, rows: np.ndarray):
    """Critic params with the first dense kernel `[A, D, H]` restricted to input rows."""

    def cut(path, x):
        names = [getattr(k, "key", None) for k in path]
        return x[:, rows] if names[-3:] == ["Torso_0", "Dense_0", "kernel"] else x

    return jax.tree_util.tree_map_with_path(cut, params)


def test_cross_play_masked_critic_equals_each_teams_own_critic_on_the_kept_weights():
    """maddpg good agents vs a ddpg adversary: one stacked critic on masked inputs
    [x, o_i, a_i, a_1..a_N]. The adversary's output is the pure DDPG critic Q(o_0, a_0) with
    the same weights on the kept rows, the good agents' the pure MADDPG critic Q(x, a), the
    adversary ignores the state and other actions, and masked weights get zero gradient."""
    mixed = make_learner(adversary_algo="ddpg")
    assert mixed.spec.agents[0] == "adversary_0" and mixed.central == (False, True, True)
    s, o, u = mixed.spec.state_dim, mixed.spec.obs_dim, mixed.spec.action_dim
    own_rows = np.arange(s, s + o + u)  # [o_i, a_i]
    central_rows = np.concatenate([np.arange(s), np.arange(s + o + u, s + o + u + 3 * u)])
    params = mixed.critic.init(jax.random.PRNGKey(3))
    batch = random_batch(mixed, 5, seed=5)
    joint = jnp.broadcast_to(batch.action[None], (3,) + batch.action.shape)
    got = np.asarray(jax.jit(mixed.q_values)(params, batch.obs, joint))

    ddpg, maddpg = make_learner(algo="ddpg"), make_learner()
    want_adversary = ddpg.q_values(_first_kernel_rows(params, own_rows), batch.obs, joint)
    want_good = maddpg.q_values(_first_kernel_rows(params, central_rows), batch.obs, joint)
    np.testing.assert_allclose(got[0], np.asarray(want_adversary)[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got[1:], np.asarray(want_good)[1:], rtol=1e-5, atol=1e-6)

    changed = joint.at[:, :, 1].add(0.5)  # agent 1's action, seen by every critic
    moved_state = batch.obs._replace(state=batch.obs.state + 1.0)
    for obs, j in ((batch.obs, changed), (moved_state, joint)):
        after = np.asarray(mixed.q_values(params, obs, j))
        np.testing.assert_array_equal(after[0], got[0])  # the adversary sees neither
        assert np.abs(after[2] - got[2]).min() > 1e-6  # a centralised good agent sees both

    grads = jax.grad(lambda p: jnp.sum(mixed.q_values(p, batch.obs, joint)))(params)
    kernel = np.asarray(grads["params"]["Torso_0"]["Dense_0"]["kernel"])  # [A, D, H]
    assert np.all(kernel[0, central_rows] == 0) and np.abs(kernel[0, own_rows]).max() > 0
    assert np.all(kernel[1:, own_rows] == 0) and np.abs(kernel[1:, central_rows]).max() > 0


def test_policy_inference_fits_a_known_policy():
    """On data from a known softmax policy, each agent's model of the other improves its
    log-likelihood and its mode approaches the true policy's mode."""
    learner = make_learner(
        env="MPE_simple_speaker_listener_v4",
        env_kwargs={},
        infer_policies=True,
        hidden_dim=32,
        lr=1e-2,
        inference_ent_coef=1e-3,
    )
    spec = learner.spec
    rng = np.random.default_rng(0)
    n = 512
    obs_mask = np.arange(spec.obs_dim)[None, :] < np.asarray(spec.obs_dims)[:, None]
    obs = rng.normal(size=(n, 2, spec.obs_dim)) * obs_mask
    weights = rng.normal(size=(2, spec.obs_dim, spec.action_dim)) * 2.0
    mask = spec.action_mask()
    true_logits = np.where(mask, np.einsum("nao,aou->nau", obs, weights), -np.inf)
    gumbel = rng.gumbel(size=true_logits.shape)
    action = np.eye(spec.action_dim)[np.argmax(true_logits + gumbel, -1)]
    observation = Observation(
        jnp.asarray(obs, jnp.float32),
        jnp.zeros((n, spec.state_dim)),
        jnp.broadcast_to(jnp.asarray(mask), (n,) + mask.shape),
    )
    batch = Replay(
        observation,
        jnp.asarray(action, jnp.float32),
        jnp.zeros((n, 2)),
        observation,
        jnp.zeros(n, bool),
        jnp.zeros((n, 2), jnp.int32),
    )
    params = learner.inference.net.init(jax.random.PRNGKey(0))

    @jax.jit
    def fit(params):
        opt = jax.vmap(learner.inference.tx.init)(params)

        def step(carry, _):
            p, o = carry
            grads = jax.grad(lambda q: learner.inference.loss(q, batch)[0])(p)
            p, o = jax.vmap(lambda p, o, g: _adam_step(learner, p, o, g))(p, o, grads)
            return (p, o), None

        return jax.lax.scan(step, (params, opt), None, length=300)[0][0]

    def evaluate(p):
        out = np.asarray(jax.jit(learner.inference.out)(p, observation.obs))  # [A(i), A(j), N, U]
        nll = np.asarray(jax.jit(learner.inference.loss)(p, batch)[1])
        agree = [
            np.mean(
                np.argmax(np.where(mask[j], out[i, j], -np.inf), -1)
                == np.argmax(true_logits[:, j], -1)
            )
            for i, j in ((0, 1), (1, 0))
        ]
        return nll, np.array(agree)

    nll0, agree0 = evaluate(params)
    nll1, agree1 = evaluate(fit(params))
    assert np.all(nll1 < nll0 - 0.3), (nll0, nll1)
    assert np.all(agree1 > 0.85) and np.all(agree1 > agree0 + 0.2), (agree0, agree1)


def test_inferred_policies_bootstrap_from_polyak_averaged_target_copies():
    """With infer_policies, the TD target uses the target copies of the inference nets: the
    critic loss depends on them and not on the online inference nets, and the copies move
    by Polyak averaging with tau."""
    learner = make_learner(env_kwargs={}, infer_policies=True, tau=0.3)
    state = learner.init(jax.random.PRNGKey(0))
    for online, target in zip(
        jax.tree.leaves(state.approx_params),
        jax.tree.leaves(state.target_approx_params),
        strict=True,
    ):
        np.testing.assert_array_equal(np.asarray(online), np.asarray(target))  # start equal
    other = learner.inference.net.init(jax.random.PRNGKey(7))
    batch = random_batch(learner, 8, seed=4)
    step = jax.jit(learner.gradient_step)
    key = jax.random.PRNGKey(1)
    base, metrics = step(state, batch, key)
    loss = np.asarray(metrics["critic_loss"])
    online_changed = step(state._replace(approx_params=other), batch, key)[1]["critic_loss"]
    target_changed = step(state._replace(target_approx_params=other), batch, key)[1]["critic_loss"]
    np.testing.assert_allclose(np.asarray(online_changed), loss, rtol=1e-6)
    assert np.abs(np.asarray(target_changed) - loss).max() > 1e-4 * np.abs(loss).max()

    want = polyak(base.approx_params, state.target_approx_params, 0.3)
    moved = 0.0
    for got, expected, online in zip(
        jax.tree.leaves(base.target_approx_params),
        jax.tree.leaves(want),
        jax.tree.leaves(base.approx_params),
        strict=True,
    ):
        np.testing.assert_allclose(np.asarray(got), np.asarray(expected), rtol=1e-6, atol=1e-7)
        moved = max(moved, float(np.abs(np.asarray(got) - np.asarray(online)).max()))
    assert moved > 1e-6  # the copies lag the online nets


def _adam_step(learner, params, opt_state, grads):
    updates, opt_state = learner.inference.tx.update(grads, opt_state, params)
    return jax.tree.map(lambda p, u: p + u, params, updates), opt_state


def test_ensemble_sub_policies_have_separate_parameters_and_data():
    """K sub-policies per agent: the actor gradient of sub-policy k of agent i comes only
    from transitions in which agent i acted with k (its own replay share)."""
    learner = make_learner(ensemble_size=2)
    a = learner.num_agents
    actor = learner.actor.init(jax.random.PRNGKey(4))
    critic = learner.critic.init(jax.random.PRNGKey(5))
    leaf = actor["params"]["Dense_0"]["kernel"]
    assert leaf.shape[0] == a * 2 and not np.allclose(leaf[0], leaf[1])
    batch = random_batch(learner, 6, seed=3)
    tags = np.zeros((6, a), np.int32)
    tags[:, 0] = 1  # agent 0 acted with sub-policy 1 throughout; the others with 0
    batch = batch._replace(sub_policy=jnp.asarray(tags))
    loss = lambda p: learner.actor_loss(p, critic, batch, jax.random.PRNGKey(0))[0]  # noqa: E731
    grads = jax.jit(jax.grad(loss))(actor)
    norms = sum(np.sum(np.asarray(g).reshape(a * 2, -1) ** 2, 1) for g in jax.tree.leaves(grads))
    used = np.zeros((a, 2), bool)
    used[0, 1] = True
    used[1:, 0] = True
    assert np.all(norms.reshape(a, 2)[used] > 0) and np.all(norms.reshape(a, 2)[~used] == 0)


def test_acting_uses_each_agents_drawn_sub_policy():
    learner = make_learner(ensemble_size=3, exploration_noise=0.0)
    state = jax.jit(learner.init)(jax.random.PRNGKey(0))
    drawn = [2, 0, 1]
    _, (items, *_) = jax.jit(learner.collect)(
        state.actor_params, jnp.array(drawn), state.runner, jax.random.PRNGKey(1)
    )
    np.testing.assert_array_equal(np.asarray(items.sub_policy[0, 0]), drawn)
    mask = items.obs.avail[0][:, :, None]
    every = jax.jit(learner.actor_out)(state.actor_params, items.obs.obs[0])  # [B, A, K, U]
    every = np.asarray(learner.squash(every, mask))
    for i, k in enumerate(drawn):
        np.testing.assert_allclose(np.asarray(items.action[0, :, i]), every[:, i, k], atol=1e-6)
        assert not np.allclose(np.asarray(items.action[0, :, i]), every[:, i, (k + 1) % 3])


def _action_kind(rows: np.ndarray) -> str:
    """ "one_hot" if every row `[..., U]` is exactly one-hot, "soft" if every row lies on the
    simplex and none is one-hot, else "mixed"."""
    rows = rows.reshape(-1, rows.shape[-1])
    if np.all((rows == 0.0) | (rows == 1.0)) and np.all(rows.sum(-1) == 1.0):
        return "one_hot"
    on_simplex = np.all(rows >= 0.0) and np.allclose(rows.sum(-1), 1.0, atol=1e-5)
    return "soft" if on_simplex and np.all(rows.max(-1) < 1.0) else "mixed"


@pytest.mark.parametrize("hard, kind", [(False, "soft"), (True, "one_hot")])
def test_discrete_critic_is_trained_and_queried_with_one_kind_of_action(hard, kind):
    """The stored actions (the critic's regression inputs) and the joint actions it is queried
    with in the TD target and the actor loss are all soft samples, or all one-hot with
    gumbel_hard; the environment executes the argmax of the stored sample."""
    learner = make_learner(env_kwargs={}, gumbel_hard=hard)  # discrete simple_adversary
    queried = []
    q_values = learner.q_values

    def spy(params, obs, joint):
        jax.debug.callback(lambda j: queried.append(np.asarray(j)), joint)
        return q_values(params, obs, joint)

    learner.q_values = spy
    state, metrics = learner.update(learner.init(jax.random.PRNGKey(0)))  # stores and trains
    assert bool(metrics["trained"])
    # flashbax item buffer: [1, buffer_size, A, U], one update's 8 transitions written.
    stored = np.asarray(state.buffer.experience.action[0, :8])
    assert _action_kind(stored) == kind
    # One gradient step queries the critic three times: TD target, critic loss, actor loss.
    assert len(queried) == 3
    assert [_action_kind(joint) for joint in queried] == [kind] * 3

    raw = jax.random.normal(jax.random.PRNGKey(1), (16, 3, 5))
    env_action, critic_action = learner.explore(
        raw, jnp.ones((16, 3, 5), bool), jax.random.PRNGKey(2)
    )
    assert _action_kind(np.asarray(critic_action)) == kind
    np.testing.assert_array_equal(np.asarray(env_action), np.asarray(critic_action).argmax(-1))


@pytest.mark.parametrize(
    "bad, field",
    [
        (dict(buffer_size=4), "buffer_size"),
        (dict(batch_size=16, learning_starts=8), "learning_starts"),
        (dict(tau=0.0), "tau"),
        (dict(algo="ddpg", infer_policies=True), "infer_policies"),
        (dict(recurrent=True), "recurrent"),
        (dict(gradient_steps=0), "gradient_steps"),
        (dict(adversary_algo="ddpg"), "adversary_algo"),  # simple_spread: no adversaries
        (dict(env=MADDPG_ENV, adversary_algo="mappo"), "adversary_algo"),
        (dict(algo="mappo", env=MADDPG_ENV, adversary_algo="ddpg"), "adversary_algo"),
        (dict(env=MADDPG_ENV, adversary_algo="ddpg", centralised_critic=True), "centralised"),
        (dict(algo="ddpg", env=MADDPG_ENV, adversary_algo="ddpg", infer_policies=True), "infer"),
    ],
)
def test_validation_names_the_field(bad, field):
    config = harlax.Config(**{"algo": "maddpg", **TINY, **bad})
    with pytest.raises(ValueError, match=f"Config.{field}"):
        config.validate()


def test_default_offpolicy_config_validates_with_the_references_learning_starts():
    config = harlax.Config(algo="maddpg")
    assert config.learning_starts == config.batch_size * 25
    assert config.validate().minibatch_size == config.batch_size


def test_cross_play_teams_follow_their_algos():
    config = harlax.Config(algo="ddpg", env=MADDPG_ENV, adversary_algo="maddpg", **TINY)
    derived = config.validate()
    assert (derived.centralised_critic, derived.adversary_centralised_critic) == (False, True)
    assert critic_centralised(derived, ("adversary_0", "agent_0", "agent_1")) == (
        True,
        False,
        False,
    )
    config.replace(infer_policies=True).validate()  # the adversary's critic can infer


def test_presets_for_the_paper_tasks_validate():
    for task in ("spread", "speaker_listener", "reference", "adversary", "tag", "push"):
        for algo in ("maddpg", "ddpg"):
            preset = harlax.presets[f"{algo}_{task}"]
            derived = preset.validate()
            assert derived.family == "offpolicy"
            # The reference starts learning at batch_size * max_episode_len transitions.
            assert preset.learning_starts == preset.batch_size * preset.rollout_length == 25_600
            assert derived.centralised_critic == (algo == "maddpg")


E2E = tiny_fields(
    onpolicy=False,
    rollout_length=13,
    total_steps=104,
    num_layers=1,
    buffer_size=64,
    batch_size=16,
    learning_starts=53,  # the first update's 52 steps do not suffice: it does not train
    gradient_steps=2,
)


def _check_metrics(metrics, num_agents):
    assert metrics["critic_loss"].shape == (1, 2, num_agents)
    # Before learning starts the losses are NaN and `trained` is false (the guard allows it).
    np.testing.assert_array_equal(metrics["trained"], [[False, True]])
    assert np.all(np.isnan(metrics["critic_loss"][:, 0]))
    assert np.all(np.isfinite(metrics["critic_loss"][:, 1]))
    assert np.all(np.isfinite(metrics["actor_loss"][:, 1]))
    assert int(metrics["episodes"].sum()) == 4  # 26 steps per env: one 25-step episode each
    # The logged mean-over-agents return is the mean of the per-agent returns.
    np.testing.assert_allclose(
        metrics["episode_return_sum"], metrics["agent_return_sum"].mean(-1), rtol=1e-5, atol=1e-4
    )


@pytest.mark.slow
def test_end_to_end_cooperative_discrete_with_inference_ensembles_and_straight_through():
    config = harlax.Config(
        algo="maddpg",
        env="MPE_simple_spread_v3",
        infer_policies=True,
        gumbel_hard=True,
        ensemble_size=2,
        **E2E,
    )
    result = harlax.train(config, write=False)
    _check_metrics(result.metrics, 3)
    assert np.all(np.isfinite(result.metrics["inference_loss"][:, 1]))
    # One sub-policy index per agent and update, drawn (not constant) from range(K).
    drawn = result.metrics["sub_policy"]
    assert drawn.shape == (1, 2, 3) and set(np.unique(drawn)) == {0, 1}


@pytest.mark.slow
def test_end_to_end_competitive_continuous_writes_per_agent_metrics(tmp_path):
    config = harlax.Config(algo="ddpg", **ADVERSARY, **E2E)
    result = harlax.train(config, run_dir=tmp_path / "run")
    _check_metrics(result.metrics, 3)
    with (tmp_path / "run" / "metrics.csv").open() as f:
        header = next(csv.reader(f))
    assert "agent_return_sum/adversary_0" in header and "q_mean/agent_1" in header


@pytest.mark.slow
def test_end_to_end_cross_play_discrete_ddpg_good_agents_vs_inferring_maddpg_adversary():
    config = harlax.Config(
        algo="ddpg", env=MADDPG_ENV, adversary_algo="maddpg", infer_policies=True, **E2E
    )
    result = harlax.train(config, write=False)
    _check_metrics(result.metrics, 3)
    assert np.all(np.isfinite(result.metrics["inference_loss"][:, 1]))


def test_cli_parses_maddpg_presets_and_fields():
    from harlax.cli import parse_train_args

    config = parse_train_args(
        ["--preset", "ddpg_adversary", "--ensemble-size", "3", "--buffer-size", "1e5"]
    )
    assert (config.algo, config.env, config.ensemble_size) == ("ddpg", MADDPG_ENV, 3)
    assert config.buffer_size == 100_000 and config.validate().centralised_critic is False
    crossed = parse_train_args(["--preset", "maddpg_adversary", "--adversary-algo", "ddpg"])
    assert crossed.validate().adversary_centralised_critic is False
    with pytest.raises(ValueError, match="Config.tau"):
        parse_train_args(["--preset", "maddpg_adversary", "--tau", "0"])
