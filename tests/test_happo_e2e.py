"""Tiny end-to-end HAPPO / HATRPO runs (and the simultaneous trust-region scheme) on
discrete, continuous, heterogeneous, recurrent and MABrax environments."""

from __future__ import annotations

import numpy as np
import pytest

from harlax.envs.mabrax import brax_available
from harlax.train import train

SPREAD = "MPE_simple_spread_v3"
CASES = [
    ("happo", SPREAD, {}, False),
    ("hatrpo", SPREAD, {"action_type": "Continuous"}, False),
    ("hatrpo", "MPE_simple_speaker_listener_v4", {}, False),
    ("happo", "SMAX", {"map_name": "3m"}, True),
    ("trpo", SPREAD, {}, False),  # simultaneous scheme with the trust-region step
    ("hatrpo", "halfcheetah_6x1", {"episode_length": 10}, False),
]


@pytest.mark.slow
@pytest.mark.parametrize("algo, env, env_kwargs, recurrent", CASES)
def test_tiny_run(algo, env, env_kwargs, recurrent, tiny):
    if env == "halfcheetah_6x1" and not brax_available():
        pytest.skip("MABrax needs the optional extra: pip install 'harlax[mabrax]'")
    config = tiny(algo=algo, env=env, env_kwargs=env_kwargs, recurrent=recurrent, num_minibatches=1)
    result = train(config, write=False)
    m = result.metrics
    num_agents = m["actor_kl"].shape[-1]
    assert m["actor_kl"].shape == (1, 2, num_agents)
    for name, value in m.items():
        assert np.all(np.isfinite(value)), name
    assert np.all(m["actor_kl"] > 0)  # every agent's policy moved
    if algo != "happo":
        assert np.all(m["actor_kl"] <= config.kl_threshold * 1.001)
        assert set(np.unique(m["actor_step_accepted"])) <= {0, 1}
    if algo != "trpo":  # sequential: a permutation per update and the range of M
        order = np.sort(m["actor_order"], axis=-1)
        assert (order == np.arange(num_agents)).all()
        assert np.all(m["actor_factor_min"] <= m["actor_factor_max"])
        first = m["actor_order"][..., 0:1] == np.arange(num_agents)
        # The first agent of each update sees M == 1.
        np.testing.assert_allclose(m["actor_factor_max"][first], 1.0, rtol=1e-6)
