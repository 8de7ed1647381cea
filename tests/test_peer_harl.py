"""The parsing of HARL's log in benchmarks/peer_harl.py (no HARL, no network)."""

import pytest

from benchmarks.peer_harl import parse_fps_lines, steady_rate

LOG = """start running
Env pettingzoo_mpe Task simple_spread_v2-discrete Algo happo Exp peer_harl updates 5/15 \
episodes, total num timesteps 20000/60000, FPS 500.
Average step reward is -0.5.
Env pettingzoo_mpe Task simple_spread_v2-discrete Algo happo Exp peer_harl updates 10/15 \
episodes, total num timesteps 40000/60000, FPS 800.
Some episodes done, average episode reward is -100.

Env pettingzoo_mpe Task simple_spread_v2-discrete Algo happo Exp peer_harl updates 15/15 \
episodes, total num timesteps 60000/60000, FPS 900.
"""


def test_parse_fps_lines():
    assert parse_fps_lines(LOG) == [(20000, 500), (40000, 800), (60000, 900)]
    assert parse_fps_lines("start running\n") == []


def test_steady_rate_uses_intervals_after_the_first():
    # Lines at t = 40 s, 50 s, 66.67 s: the intervals after the first run at 2000/s and
    # 1200/s (the first, 500/s, includes start-up and is dropped).
    rate = steady_rate(parse_fps_lines(LOG))
    assert rate == pytest.approx((20000 / 10 + 20000 / (60000 / 900 - 50)) / 2)
    assert steady_rate([(20000, 700)]) == 700.0
    with pytest.raises(ValueError):
        steady_rate([])
