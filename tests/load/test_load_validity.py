"""Validity: a client that fell behind makes the run INVALID, with the reason and a fix."""

from __future__ import annotations

import numpy as np

from nullband.load.config import ValidityThresholds
from nullband.load.validity import assess


def _run(lag_ms: np.ndarray, loop_ms: np.ndarray, sent_scale: float = 1.0, drop: int = 0):  # type: ignore[no-untyped-def]
    planned = np.arange(len(lag_ms)) * 0.02  # 50/s
    sent = (planned * sent_scale + lag_ms / 1e3)[: len(lag_ms) - drop]
    return assess(
        planned=len(lag_ms),
        sent_offsets_s=sent,
        planned_offsets_s=planned,
        dispatch_lag_ms=lag_ms[: len(lag_ms) - drop],
        loop_lag_ms=loop_ms,
        procs=1,
        cap_hit=False,
        thresholds=ValidityThresholds(),
        cpu_share=0.9,
    )


def test_healthy_client_is_valid() -> None:
    rng = np.random.default_rng(0)
    rep = _run(rng.uniform(0.0, 0.3, 1000), rng.uniform(0, 1.0, 500))
    assert rep.verdict == "VALID"
    assert rep.reasons == []
    assert rep.suggestion is None


def test_each_hard_check_invalidates_with_its_reason() -> None:
    rng = np.random.default_rng(1)
    ok_loop = rng.uniform(0, 1.0, 500)
    # dispatch lag p99 above 5 ms
    lag = rng.uniform(0, 0.3, 1000)
    lag[-20:] = 8.0
    rep = _run(lag, ok_loop)
    assert rep.verdict == "INVALID"
    assert any("dispatch lag p99" in r for r in rep.reasons)
    assert rep.suggestion is not None
    assert "--procs 2" in rep.suggestion
    # 2 % of requests more than 1 ms late, p99 still small
    lag = rng.uniform(0, 0.3, 1000)
    lag[:20] = 1.5
    rep = _run(lag, ok_loop)
    assert [c.name for c in rep.checks if not c.passed] == ["late_fraction"]
    # achieved arrival rate 2 % low (relative sleeps drifting)
    rep = _run(rng.uniform(0, 0.3, 1000), ok_loop, sent_scale=1.02)
    assert [c.name for c in rep.checks if not c.passed] == ["arrival_rate"]
    # a request never sent
    rep = _run(rng.uniform(0, 0.3, 1000), ok_loop, drop=1)
    assert "all_sent" in [c.name for c in rep.checks if not c.passed]
    # event loop stalls
    loop = ok_loop.copy()
    loop[:10] = 12.0
    rep = _run(rng.uniform(0, 0.3, 1000), loop)
    assert [c.name for c in rep.checks if not c.passed] == ["loop_lag_p99"]


def test_one_percent_late_is_still_valid() -> None:
    lag = np.zeros(1000)
    lag[:10] = 1.5  # exactly 1 %: the limit is "more than 1 %"
    rep = _run(lag, np.zeros(100))
    assert rep.verdict == "VALID"
