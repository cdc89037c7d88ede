"""The drift view: served models and fingerprints within a run and across runs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from store_factories import T0, make_record, make_run

from nullband.errors import StoreError
from nullband.records import Provenance
from nullband.store import SqlStore
from nullband.store.drift import drift_report, drift_summary, target_drift, target_history


def _at(i: int) -> object:
    return T0 + timedelta(seconds=i)


def test_alias_switch_within_a_run_is_found_at_the_first_new_record(store: SqlStore) -> None:
    run = make_run()
    store.create_run(run)
    # Completion order: 5 by m-a, then m-b takes over at c005; c006 is a straggler that
    # m-a still answered (in flight during the switch); one failed call in between.
    served = ["m-a"] * 5 + ["m-b", "m-a", "m-b", "m-b"]
    recs = [
        make_record(run.run_id, f"c{i:03d}", served=s, fingerprint="fp_" + s, at=_at(i))
        for i, s in enumerate(served)
    ]
    recs.append(make_record(run.run_id, "c100", status="error", served=None, at=_at(5)))
    flagged = Provenance(
        requested="acme-2026-05-01", served="m-b", fingerprint="fp_m-b", mismatch=True
    )
    recs.append(make_record(run.run_id, "c101", at=_at(20), provenance=flagged))
    store.write_records(recs)
    run = store.get_run(run.run_id) or run
    d = target_drift(store, run, "cand")
    assert d.drifted
    assert d.n_ok == 10
    assert [(s.served, s.n) for s in d.sightings] == [("m-a", 6), ("m-b", 4)]
    a, b = d.sightings
    assert (a.first_case_id, a.last_case_id, a.last_at) == ("c000", "c006", _at(6))
    assert (b.first_case_id, b.first_at, b.last_case_id) == ("c005", _at(5), "c101")
    (change,) = d.changes
    assert change.kind == "model"
    assert (change.case_id, change.epoch, change.at, change.position) == ("c005", 0, _at(5), 5)
    assert (change.from_served, change.to_served) == ("m-a", "m-b")
    assert (change.from_fingerprint, change.to_fingerprint) == ("fp_m-a", "fp_m-b")
    assert d.switches == 3  # a->b, b->a (the straggler), a->b
    # The cheap SQL summary (used by `runs --drift`) agrees on where it changed.
    summary = drift_summary(store, run, "cand")
    assert [(p.served, p.n) for p in summary.pairs] == [("m-a", 6), ("m-b", 4)]
    assert summary.first_change is not None
    assert (summary.first_change.case_id, summary.first_change.at) == ("c005", _at(5))
    assert d.requested == "acme-2026-05-01"
    assert d.mismatched == 1


def test_a_fingerprint_change_alone_is_reported_as_such(sqlite_store: SqlStore) -> None:
    run = make_run()
    sqlite_store.create_run(run)
    sqlite_store.write_records(
        [
            make_record(
                run.run_id,
                f"c{i}",
                served="m",
                fingerprint="fp_old" if i < 3 else "fp_new",
                at=_at(i),
            )
            for i in range(6)
        ]
    )
    (change,) = target_drift(sqlite_store, run, "cand").changes
    assert change.kind == "fingerprint"
    assert change.case_id == "c3"


def test_no_drift_when_one_model_served(sqlite_store: SqlStore) -> None:
    run = make_run()
    sqlite_store.create_run(run)
    sqlite_store.write_records([make_record(run.run_id, f"c{i}", at=_at(i)) for i in range(4)])
    d = target_drift(sqlite_store, run, "cand")
    assert not d.drifted
    assert d.changes == []
    assert d.switches == 0


def test_history_across_runs_of_the_same_target_and_model(store: SqlStore) -> None:
    runs = [make_run(created_at=T0 + timedelta(days=k)) for k in range(4)]
    other_model = make_run(
        created_at=T0 + timedelta(days=2, hours=1), targets={"cand": "acme-2027-01-01"}
    )
    empty = make_run(created_at=T0 + timedelta(days=2, hours=2))
    for r in [*runs, other_model, empty]:
        store.create_run(r)
    day = timedelta(days=1)
    for k, model in enumerate(["m-a", "m-a", "m-b", "m-b"]):
        store.write_records(
            [
                make_record(
                    runs[k].run_id,
                    f"c{i}",
                    served=("m-a" if i < 2 and k == 2 else model),
                    fingerprint="fp",
                    at=_at(i) + k * day,
                )  # type: ignore[operator]
                for i in range(4)
            ]
        )
    store.write_records([make_record(other_model.run_id, "c0", served="zzz", at=_at(0) + 2 * day)])  # type: ignore[operator]
    store.write_records(
        [make_record(empty.run_id, "c0", status="error", served=None, at=_at(0) + 2 * day)]
    )  # type: ignore[operator]
    hist = target_history(store, runs[3], "cand", last=10)
    # The run with another requested model is not the same target; the empty one is listed.
    assert [r.run_id for r in hist.runs] == [
        runs[0].run_id,
        runs[1].run_id,
        runs[2].run_id,
        empty.run_id,
        runs[3].run_id,
    ]
    (change,) = hist.changes
    assert change.run_id == runs[2].run_id
    assert change.previous_run_id == runs[1].run_id
    assert (change.kind, change.served, change.case_id) == ("model", "m-b", "c2")
    assert change.at == _at(2) + 2 * day  # type: ignore[operator]
    assert change.gone == []  # m-a still served c0 and c1 in that run
    assert [(p.served, p.n) for p in hist.runs[2].pairs] == [("m-a", 2), ("m-b", 2)]
    # A target the config does not name is compared with nothing but itself.
    stray = make_run(created_at=T0 + timedelta(days=5), targets={})
    store.create_run(stray)
    store.write_records([make_record(stray.run_id, "c0", "cand", at=_at(0))])
    assert [r.run_id for r in target_history(store, stray, "cand").runs] == [stray.run_id]
    # --last bounds the window, ending at the run examined.
    short = target_history(store, runs[2], "cand", last=2)
    assert [r.run_id for r in short.runs] == [runs[1].run_id, runs[2].run_id]


def test_report_defaults_to_the_latest_run_and_checks_targets(sqlite_store: SqlStore) -> None:
    with pytest.raises(StoreError, match="has no runs"):
        drift_report(sqlite_store)
    old = make_run(created_at=T0)
    new = make_run(created_at=T0 + timedelta(hours=1))
    sqlite_store.create_run(old)
    sqlite_store.create_run(new)
    report = drift_report(sqlite_store)
    assert report.run_id == new.run_id
    assert [t.target for t in report.within] == ["base", "cand"]
    only = drift_report(sqlite_store, old.run_id, targets=["cand"])
    assert [t.target for t in only.across] == ["cand"]
    with pytest.raises(StoreError, match="no target nope"):
        drift_report(sqlite_store, old.run_id, targets=["nope"])
