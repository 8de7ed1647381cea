"""The summary of alternating repeats in benchmarks/peer_jaxmarl.py (no peer, no training)."""

import pytest

from benchmarks.peer_jaxmarl import summarise


def test_summary_takes_medians_and_the_range_of_paired_ratios():
    ours = [{"compile_s": c, "run_s": r} for c, r in ((9.0, 10.0), (8.0, 12.0), (7.0, 11.0))]
    peers = [{"compile_s": c, "run_s": r} for c, r in ((6.0, 15.0), (9.0, 24.0), (8.0, 13.2))]
    row = summarise(ours, peers, steps=1000)
    assert row["harlax_compile_s"] == 8.0 and row["harlax_run_s"] == 11.0
    assert row["peer_compile_s"] == 8.0 and row["peer_run_s"] == 15.0
    assert row["harlax_steps_per_s"] == pytest.approx(1000 / 11.0)
    assert row["speedup"] == pytest.approx(15.0 / 11.0)
    # paired ratios 1.5, 2.0, 1.2: the median ratio is not the ratio of the medians
    assert (row["speedup_min"], row["speedup_max"]) == pytest.approx((1.2, 2.0))


def test_summary_without_a_peer_has_harlax_only():
    row = summarise([{"compile_s": 1.0, "run_s": 2.0}], [], steps=10)
    assert row == {"harlax_compile_s": 1.0, "harlax_run_s": 2.0, "harlax_steps_per_s": 5.0}
