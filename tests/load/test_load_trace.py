"""Traces and synthetic schedules: formats, seeds, arrival laws."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from nullband.errors import InputError
from nullband.load.config import SyntheticTraffic, TenantSpec
from nullband.load.trace import (
    read_trace,
    schedule_from_trace,
    synthetic_rows,
    synthetic_schedule,
    write_trace,
)


def test_reads_header_rows_and_mooncake(tmp_path: Path) -> None:
    p = tmp_path / "t.jsonl"
    p.write_text(
        '{"kind":"header","schema":"nullband.loadshape/v1","timestamp_unit":"s"}\n'
        '{"t": 1.5, "tenant": "acme", "prompt_tokens": 40, "output_tokens": 8,'
        ' "prefix": {"id": "sys", "tokens": 20}}\n'
        '{"t": 0.5, "tenant": "acme", "prompt_tokens": 40, "output_tokens": 8,'
        ' "prefix": {"id": "sys", "tokens": 20}}\n'
    )
    sch = schedule_from_trace(p, seed=3)
    assert [r.offset_s for r in sch.requests] == [0.0, 1.0]  # sorted, shifted to offset 0
    a, b = (r.prompt.split() for r in sch.requests)
    assert a[:20] == b[:20]
    assert a[20] != b[20]
    assert len(a) == 40
    moon = tmp_path / "m.jsonl"
    moon.write_text(
        '{"timestamp": 0, "input_length": 600, "output_length": 10, "hash_ids": [1, 2]}\n'
        '{"timestamp": 250, "input_length": 700, "output_length": 12, "hash_ids": [1, 3]}\n'
    )
    _header, rows = read_trace(moon)
    assert [r.t for r in rows] == [0.0, 0.25]  # Mooncake timestamps are ms
    s2 = schedule_from_trace(moon)
    w0, w1 = (r.prompt.split() for r in s2.requests)
    assert w0[:512] == w1[:512]
    assert w0[512:520] != w1[512:520]


def test_bad_line_names_file_and_line(tmp_path: Path) -> None:
    p = tmp_path / "bad.jsonl"
    p.write_text('{"t": 0, "prompt_tokens": 5, "output_tokens": 1}\n{"t": 1, "prompt_tokens": 5}\n')
    with pytest.raises(InputError, match=r"bad\.jsonl:2: field 'output_tokens'"):
        read_trace(p)


def test_synthetic_is_seeded_and_poisson() -> None:
    spec = SyntheticTraffic(rate=50, duration_s=60)
    a = synthetic_schedule(spec, seed=1)
    assert a.fingerprint() == synthetic_schedule(spec, seed=1).fingerprint()
    assert a.fingerprint() != synthetic_schedule(spec, seed=2).fingerprint()
    gaps = np.diff([r.offset_s for r in a.requests])
    # exponential gaps with mean 1/50 s: a KS test should not reject (seeded, p is fixed)
    assert stats.kstest(gaps, "expon", args=(0, 1 / 50)).pvalue > 0.01
    assert abs(len(a.requests) - 3000) < 4 * np.sqrt(3000)  # Poisson count, 4 sd


def test_gamma_burstiness_sets_the_gap_dispersion() -> None:
    spec = SyntheticTraffic(arrival="gamma", rate=100, burstiness=0.25, requests=20000)
    gaps = np.diff([r.t for r in synthetic_rows(spec, seed=5)])
    cv = gaps.std() / gaps.mean()
    assert cv == pytest.approx(1 / np.sqrt(0.25), rel=0.05)  # CV of gamma(k) = 1/sqrt(k)
    assert gaps.mean() == pytest.approx(1 / 100, rel=0.05)


def test_tenant_mix_and_prefixes(tmp_path: Path) -> None:
    spec = SyntheticTraffic(
        rate=100, requests=2000, prompt_tokens=(200, 300),
        tenants=[TenantSpec(name="a", weight=3, prefix_tokens=100), TenantSpec(name="b")],
    )  # fmt: skip
    rows = synthetic_rows(spec, seed=0)
    share_a = sum(r.tenant == "a" for r in rows) / len(rows)
    assert share_a == pytest.approx(0.75, abs=0.04)
    assert all(200 <= r.prompt_tokens <= 300 for r in rows)
    out = tmp_path / "synth.jsonl"
    write_trace(out, rows, source="test")
    header, back = read_trace(out)
    assert header.source == "test"
    assert len(back) == len(rows)
