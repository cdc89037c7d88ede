"""Held-out-style result sets for the compare tests, generated with fixed seeds."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest

from nullband.records import ModelInfo, ResultRow

BASE_MODEL = "openai/gpt-4o-mini-2024-07-18"
CAND_MODEL = "nexus/ft-7b-2026-06-01"


def row(cid: str, score: float, *, model: str, epoch: int = 0, **kw: Any) -> ResultRow:
    """One results row with a served model equal to the pinned one."""
    served = kw.pop("served", model.split("/")[-1])
    metric = kw.pop("metric", "pass")
    return ResultRow(
        case_id=cid,
        epoch=epoch,
        scores={metric: score},
        model=ModelInfo(requested=model, served=served, fingerprint="fp_1"),
        **kw,
    )


def field_notes_rows() -> tuple[list[ResultRow], list[ResultRow]]:
    """840 prompts, 599 vs 617 passes, 49 vs 67 discordant, 4 customers."""
    cells = [(1, 1)] * 550 + [(1, 0)] * 49 + [(0, 1)] * 67 + [(0, 0)] * 174
    order = np.random.default_rng(840).permutation(840)
    base, cand = [], []
    for i, k in enumerate(order):
        a, b = cells[k]
        seg = {"customer": f"cust{i % 4}"}
        base.append(row(f"p{i:04d}", a, model=BASE_MODEL, segments=seg, case_hash=f"h{i}"))
        cand.append(row(f"p{i:04d}", b, model=CAND_MODEL, segments=seg, case_hash=f"h{i}"))
    return base, cand


def forty_segments_rows() -> tuple[list[ResultRow], list[ResultRow]]:
    """40 customers; customer c07 drops from ~92% to ~62%; 3 customers have 8 cases only."""
    rng = np.random.default_rng(4040)
    base, cand = [], []
    i = 0
    for s in range(40):
        n = 8 if s in (37, 38, 39) else 120
        for _ in range(n):
            p = rng.uniform(0.75, 0.95)
            a = int(rng.random() < p)
            if s == 7:
                b = a if rng.random() < 0.6 else int(rng.random() < 0.3)
            else:
                b = a if rng.random() < 0.9 else int(rng.random() < p + 0.03)
            seg = {"customer": f"c{s:02d}"}
            base.append(row(f"q{i:05d}", a, model=BASE_MODEL, segments=seg))
            cand.append(row(f"q{i:05d}", b, model=CAND_MODEL, segments=seg))
            i += 1
    return base, cand


def write_jsonl(path: Path, rows: list[ResultRow]) -> Path:
    """Write rows as a results file."""
    path.write_bytes(b"".join(orjson.dumps(r.model_dump(mode="json")) + b"\n" for r in rows))
    return path


@pytest.fixture
def field_notes() -> tuple[list[ResultRow], list[ResultRow]]:
    """The field notes' 840-prompt comparison."""
    return field_notes_rows()


@pytest.fixture
def forty_segments() -> tuple[list[ResultRow], list[ResultRow]]:
    """40 segments, one regressed, three low-n."""
    return forty_segments_rows()


@pytest.fixture
def make_row() -> Callable[..., ResultRow]:
    """The row helper."""
    return row


@pytest.fixture
def jsonl() -> Callable[[Path, list[ResultRow]], Path]:
    """The JSONL writer."""
    return write_jsonl
