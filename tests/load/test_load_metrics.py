"""Per-request metric definitions: TTFT, TPOT (first token excluded), ITL per event/token."""

from __future__ import annotations

import pytest

from nullband.load.config import SLO
from nullband.load.metrics import metric_samples, prompt_bucket, request_metrics
from nullband.load.records import RequestRecord
from nullband.load.summary import is_good, latency_and_slices

MS = 1_000_000


def rec(idx: int = 0, **kw: object) -> RequestRecord:
    base: dict[str, object] = dict(
        idx=idx, id=str(idx), tenant="a", prompt_tokens_target=100, output_tokens_target=5,
        planned_ns=0, send_ns=2 * MS, status="ok",
    )  # fmt: skip
    base.update(kw)
    return RequestRecord.model_validate(base)


def test_ttft_tpot_and_itl_definitions() -> None:
    # send at 2 ms (planned 0). Events (µs after send): role-only at 40 ms, then tokens at
    # 50 (1 token), 60 (1), 80 (2 tokens in one event), 90 (1): 5 tokens.
    r = rec(
        first_event_ns=42 * MS,
        first_token_ns=52 * MS,
        last_token_ns=92 * MS,
        event_us=[40_000, 50_000, 60_000, 80_000, 90_000],
        event_tokens=[0, 1, 1, 2, 1],
        completion_tokens=5,
    )
    m = request_metrics(r)
    assert m.ttft == pytest.approx(50.0)  # from the actual send
    assert m.ttft_planned == pytest.approx(52.0)  # from the planned send
    assert m.ttfe == pytest.approx(40.0)  # role-only chunk counts as an event, not a token
    assert m.tpot == pytest.approx((92 - 52) / (5 - 1))  # first token excluded
    assert m.itl_event == pytest.approx([10.0, 20.0, 10.0])  # gaps between token events
    assert m.itl_token == pytest.approx([10.0, 10.0, 10.0, 10.0])  # 20 ms over 2 tokens
    assert m.max_stall == pytest.approx(20.0)
    assert m.e2e == pytest.approx(90.0)
    assert m.norm_latency == pytest.approx(90.0 / 5)


def test_single_token_has_no_tpot() -> None:
    r = rec(first_token_ns=12 * MS, last_token_ns=12 * MS, event_us=[10_000], event_tokens=[1],
            completion_tokens=1)  # fmt: skip
    m = request_metrics(r)
    assert m.tpot is None
    assert m.itl_event == []
    assert m.max_stall is None


def test_failed_requests_are_never_good_and_count_in_goodput() -> None:
    good = rec(0, first_token_ns=52 * MS, last_token_ns=92 * MS, event_us=[50_000, 90_000],
               event_tokens=[1, 4], completion_tokens=5)  # fmt: skip
    slow = rec(1, first_token_ns=502 * MS, last_token_ns=542 * MS, event_us=[500_000, 540_000],
               event_tokens=[1, 4], completion_tokens=5, planned_ns=10 * MS)  # fmt: skip
    failed = rec(2, status="http_error", http_status=500, planned_ns=20 * MS)
    slo = SLO(ttft_ms=100)
    assert is_good(good, request_metrics(good), slo)
    assert not is_good(slow, request_metrics(slow), slo)
    assert not is_good(failed, None, slo)
    _, _, gp, by_tenant, _ = latency_and_slices([good, slow, failed], slo)
    assert (gp.good, gp.total) == (1, 3)
    assert by_tenant["a"].errors == 1


def test_pooled_samples_and_unknown_metric() -> None:
    rs = [
        rec(i, first_token_ns=(10 + i) * MS, last_token_ns=(20 + i) * MS,
            event_us=[8_000, 18_000], event_tokens=[1, 1], completion_tokens=2)
        for i in range(3)
    ]  # fmt: skip
    assert list(metric_samples(rs, "ttft")) == pytest.approx([8.0, 9.0, 10.0])
    assert list(metric_samples(rs, "itl_event")) == pytest.approx([10.0] * 3)
    with pytest.raises(ValueError, match="unknown metric"):
        metric_samples(rs, "latency")


def test_prompt_buckets_are_powers_of_two() -> None:
    assert prompt_bucket(1) == "1-128"
    assert prompt_bucket(128) == "1-128"
    assert prompt_bucket(129) == "129-256"
    assert prompt_bucket(3000) == "2049-4096"
