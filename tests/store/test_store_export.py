"""Exports: the results file of DESIGN.md, in JSONL and parquet, one target at a time."""

from __future__ import annotations

import io
from pathlib import Path

import orjson
import pytest
from store_factories import make_record, make_run

from nullband.errors import StoreError, UsageError
from nullband.records import ResultRow
from nullband.store import SqlStore
from nullband.store.export import export_results, iter_result_rows, read_results_parquet


def _seed(store: SqlStore) -> str:
    run = make_run()
    store.create_run(run)
    store.write_records(
        [
            make_record(run.run_id, "c2", "cand", 0, served="acme-2026-05-01", fingerprint="fp_9"),
            make_record(run.run_id, "c1", "cand", 1, scores={"pass": 0.0, "f1": None}),
            make_record(run.run_id, "c1", "cand", 0, scores={"pass": 1.0, "f1": 0.5}),
            make_record(run.run_id, "c3", "cand", 0, status="error", served=None, fingerprint=None),
            make_record(run.run_id, "c1", "base", 0),
        ]
    )
    return run.run_id


def test_rows_carry_case_metadata_scores_model_and_error(store: SqlStore) -> None:
    run_id = _seed(store)
    rows = list(iter_result_rows(store, run_id, "cand"))
    assert [(r.case_id, r.epoch) for r in rows] == [("c1", 0), ("c1", 1), ("c2", 0), ("c3", 0)]
    c1 = rows[0]
    assert c1.segments == {"flow": "refund"}
    assert c1.scores == {"pass": 1.0, "f1": 0.5}
    assert c1.model.requested == "acme-2026-05-01"
    assert c1.model.served == "acme-2026-05-01"
    assert c1.error is None
    assert rows[1].scores == {"pass": 0.0, "f1": None}
    c2 = rows[2]
    assert (c2.weight, c2.adversarial, c2.model.fingerprint) == (3.0, True, "fp_9")
    c3 = rows[3]
    assert c3.cluster == "conv-1"
    assert c3.error == "HTTP 500 after 6 attempts"
    assert c3.model.served is None
    assert c3.scores == {}
    assert c3.case_hash == "h3"


def test_several_targets_need_a_target_and_list_them(store: SqlStore) -> None:
    run_id = _seed(store)
    with pytest.raises(UsageError, match="has 2 targets \\(base, cand\\)"):
        list(iter_result_rows(store, run_id))
    with pytest.raises(UsageError, match="no target 'nope'; its targets are base, cand"):
        list(iter_result_rows(store, run_id, "nope"))
    with pytest.raises(StoreError, match="no run MISSING"):
        list(iter_result_rows(store, "MISSING", "cand"))


def test_single_target_run_needs_no_target(sqlite_store: SqlStore) -> None:
    run = make_run(targets={"only": "m-2026-01-01"})
    sqlite_store.create_run(run)
    sqlite_store.write_records([make_record(run.run_id, "c1", "only")])
    assert [r.case_id for r in iter_result_rows(sqlite_store, run.run_id)] == ["c1"]


def test_jsonl_file_matches_the_design_format(sqlite_store: SqlStore, tmp_path: Path) -> None:
    run_id = _seed(sqlite_store)
    out = tmp_path / "out" / "results.jsonl"
    assert export_results(sqlite_store, run_id, out, target="cand") == 4
    lines = [orjson.loads(x) for x in out.read_bytes().splitlines()]
    assert lines[0] == {
        "schema_version": 1,
        "case_id": "c1",
        "case_hash": "h1",
        "epoch": 0,
        "segments": {"flow": "refund"},
        "weight": 1.0,
        "adversarial": False,
        "cluster": None,
        "scores": {"pass": 1.0, "f1": 0.5},
        "model": {
            "requested": "acme-2026-05-01",
            "served": "acme-2026-05-01",
            "fingerprint": "fp_1",
        },
        "error": None,
    }
    assert [ResultRow.model_validate(x) for x in lines] == list(
        iter_result_rows(sqlite_store, run_id, "cand")
    )
    # No stray temporary files next to the export.
    assert sorted(p.name for p in out.parent.iterdir()) == ["results.jsonl"]


def test_jsonl_to_text_and_binary_streams(sqlite_store: SqlStore) -> None:
    run_id = _seed(sqlite_store)
    text = io.StringIO()
    binary = io.BytesIO()
    export_results(sqlite_store, run_id, text, target="base")
    export_results(sqlite_store, run_id, binary, target="base")
    assert text.getvalue().encode() == binary.getvalue()
    assert orjson.loads(binary.getvalue())["case_id"] == "c1"


def test_parquet_round_trips_to_the_same_rows(store: SqlStore, tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    run_id = _seed(store)
    out = tmp_path / "results.parquet"
    assert export_results(store, run_id, out, target="cand", fmt="parquet") == 4
    assert list(read_results_parquet(out)) == list(iter_result_rows(store, run_id, "cand"))
    table = pq.read_table(out)
    assert table.column("case_id").to_pylist() == ["c1", "c1", "c2", "c3"]
    assert table.column("model").to_pylist()[2]["fingerprint"] == "fp_9"


def test_a_bad_target_creates_no_file(sqlite_store: SqlStore, tmp_path: Path) -> None:
    run_id = _seed(sqlite_store)
    out = tmp_path / "results.jsonl"
    with pytest.raises(UsageError):
        export_results(sqlite_store, run_id, out)
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["nested"]  # the store only


def test_parquet_of_a_run_without_records_is_empty_but_valid(
    sqlite_store: SqlStore, tmp_path: Path
) -> None:
    run = make_run(targets={"only": "m"})
    sqlite_store.create_run(run)
    out = tmp_path / "empty.parquet"
    assert export_results(sqlite_store, run.run_id, out, fmt="parquet") == 0
    assert list(read_results_parquet(out)) == []
