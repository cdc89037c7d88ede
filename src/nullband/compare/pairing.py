"""Aligning baseline and candidate rows by case id (and content hash), epochs averaged.

Rules (docs/gates.md):
* a (case_id, epoch) seen twice on one side is an error (two runs concatenated?);
* cases on one side only are reported and left out;
* cases whose content hash differs between sides are reported and left out;
* rows with ``error`` set: policy 'fail' (default) scores them 0 for every metric, since
  dropping failures flatters the flakier side; policy 'exclude' leaves their case out on
  both sides, reported;
* rows without a value for the metric (and no error) are left out; a case with no
  value in any epoch is reported as unscored;
* per-case means over epochs come first: n cases, never n x K rows.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from nullband.compare.model import (
    EpochReport,
    ErrorPolicy,
    PairingReport,
    ProvenanceReport,
    ProvenanceSide,
)
from nullband.errors import CompareError
from nullband.records import ResultRow
from nullband.stats.epochs import epoch_stats

MISSING_SEGMENT = "(none)"
_LIST_CAP = 50


@dataclass
class Aligned:
    """Paired per-case values and their case attributes, in case-id order."""

    case_ids: list[str]
    a: np.ndarray
    b: np.ndarray
    segments: dict[str, list[str]]
    weight: np.ndarray
    adversarial: np.ndarray
    cluster: np.ndarray | None
    pairing: PairingReport
    epochs: list[EpochReport]
    provenance: ProvenanceReport
    warnings: list[str] = field(default_factory=list)


def served_matches(requested: str, served: str) -> bool:
    """True when the served model is the requested one (a provider prefix may differ)."""
    if requested == served:
        return True
    return requested.split("/")[-1] == served.split("/")[-1]


def _index(rows: Sequence[ResultRow], side: str) -> dict[str, dict[int, ResultRow]]:
    out: dict[str, dict[int, ResultRow]] = {}
    for row in rows:
        per = out.setdefault(row.case_id, {})
        if row.epoch in per:
            raise CompareError(
                f"the {side} has case {row.case_id!r} epoch {row.epoch} twice",
                hint="each (case_id, epoch) must appear once per side; were two runs or "
                "two targets concatenated? (use --target for a run with several)",
            )
        per[row.epoch] = row
    return out


def _check_metric(rows: Sequence[ResultRow], metric: str, side: str) -> None:
    for row in rows:
        if metric in row.scores:
            return
    seen = sorted({k for r in rows[:2000] for k in r.scores})
    raise CompareError(
        f"no {side} row has a score for metric {metric!r}",
        hint=f"available metrics: {', '.join(seen) or 'none'}; pick one with --metric",
    )


def _provenance(rows: Sequence[ResultRow]) -> ProvenanceSide:
    req: Counter[str] = Counter()
    srv: Counter[str] = Counter()
    fps: Counter[str] = Counter()
    mism_rows = 0
    unknown = 0
    mism_cases: list[str] = []
    for row in rows:
        m = row.model
        if m.requested:
            req[m.requested] += 1
        if m.fingerprint:
            fps[m.fingerprint] += 1
        if not m.served:
            unknown += 1
            continue
        srv[m.served] += 1
        if m.requested and not served_matches(m.requested, m.served):
            mism_rows += 1
            if len(mism_cases) < _LIST_CAP and row.case_id not in mism_cases:
                mism_cases.append(row.case_id)
    return ProvenanceSide(
        requested=dict(req),
        served=dict(srv),
        fingerprints=dict(fps),
        mismatched_rows=mism_rows,
        mismatched_cases=mism_cases,
        unknown_rows=unknown,
    )


def _case_value(
    per: dict[int, ResultRow], metric: str, policy: ErrorPolicy
) -> tuple[list[tuple[int, float]], bool]:
    """(epoch, value) pairs of one case, and whether any row errored."""
    values: list[tuple[int, float]] = []
    errored = False
    for epoch in sorted(per):
        row = per[epoch]
        if row.error is not None:
            errored = True
            if policy == "fail":
                values.append((epoch, 0.0))
            continue
        v = row.scores.get(metric)
        if v is not None:
            values.append((epoch, float(v)))
    return values, errored


def align(
    baseline: Sequence[ResultRow],
    candidate: Sequence[ResultRow],
    *,
    metric: str,
    by: Sequence[str] = (),
    errors: ErrorPolicy = "fail",
) -> Aligned:
    """Pair the two sides by case id; see the module docstring for the rules.

    Raises:
        CompareError: a duplicate (case_id, epoch), a metric missing everywhere, or no
            paired cases at all.
    """
    _check_metric(baseline, metric, "baseline")
    _check_metric(candidate, metric, "candidate")
    ib, ic = _index(baseline, "baseline"), _index(candidate, "candidate")
    only_b = sorted(set(ib) - set(ic))
    only_c = sorted(set(ic) - set(ib))
    warnings: list[str] = []
    ids: list[str] = []
    va: list[float] = []
    vb: list[float] = []
    mism: list[str] = []
    err_b: list[str] = []
    err_c: list[str] = []
    excluded: list[str] = []
    unscored: list[str] = []
    ep_ids: dict[str, list[str]] = {"baseline": [], "candidate": []}
    ep_nums: dict[str, list[int]] = {"baseline": [], "candidate": []}
    ep_vals: dict[str, list[float]] = {"baseline": [], "candidate": []}
    cross: list[str] = []
    seg_conflicts = 0
    segs: dict[str, list[str]] = {d: [] for d in by}
    weight: list[float] = []
    adv: list[bool] = []
    clus: list[str | None] = []
    for cid in sorted(set(ib) & set(ic)):
        rb, rc = ib[cid], ic[cid]
        hb = next((r.case_hash for r in rb.values() if r.case_hash), None)
        hc = next((r.case_hash for r in rc.values() if r.case_hash), None)
        if hb and hc and hb != hc:
            mism.append(cid)
            continue
        vals_b, e_b = _case_value(rb, metric, errors)
        vals_c, e_c = _case_value(rc, metric, errors)
        if e_b:
            err_b.append(cid)
        if e_c:
            err_c.append(cid)
        if errors == "exclude" and (e_b or e_c):
            excluded.append(cid)
            continue
        if not vals_b or not vals_c:
            unscored.append(cid)
            continue
        ids.append(cid)
        va.append(sum(v for _, v in vals_b) / len(vals_b))
        vb.append(sum(v for _, v in vals_c) / len(vals_c))
        for side, vals in (("baseline", vals_b), ("candidate", vals_c)):
            for e, v in vals:
                ep_ids[side].append(cid)
                ep_nums[side].append(e)
                ep_vals[side].append(v)
        first_b = rb[min(rb)]
        first_c = rc[min(rc)]
        if first_b.segments != first_c.segments:
            seg_conflicts += 1
        for d in by:
            segs[d].append(first_b.segments.get(d) or first_c.segments.get(d) or MISSING_SEGMENT)
        weight.append(first_b.weight)
        adv.append(first_b.adversarial or first_c.adversarial)
        clus.append(first_b.cluster if first_b.cluster is not None else first_c.cluster)
        sb = {r.model.served for r in rb.values() if r.model.served}
        sc = {r.model.served for r in rc.values() if r.model.served}
        if sb and sc and sb != sc and len(cross) < _LIST_CAP:
            cross.append(cid)
    if not ids:
        raise CompareError(
            f"no case can be paired: baseline has {len(ib)} cases, candidate {len(ic)}, "
            f"{len(set(ib) & set(ic))} in common, {len(mism)} with different content hashes, "
            f"{len(unscored)} unscored, {len(excluded)} excluded for errors",
            hint="compare two runs of the same suite",
        )
    if only_b or only_c:
        warnings.append(
            f"{len(only_b)} cases only in the baseline and {len(only_c)} only in the candidate "
            "were left out"
        )
    if mism:
        warnings.append(
            f"{len(mism)} cases have different content on the two sides (hash mismatch) and "
            "were left out"
        )
    if unscored:
        warnings.append(f"{len(unscored)} cases had no {metric!r} score and were left out")
    if excluded:
        warnings.append(
            f"{len(excluded)} cases with errored calls were left out (--errors exclude)"
        )
    elif err_b or err_c:
        warnings.append(
            f"errored calls count as failures: {len(err_b)} baseline and {len(err_c)} "
            "candidate cases"
        )
    if seg_conflicts:
        warnings.append(
            f"{seg_conflicts} cases have different segment tags on the two sides; the "
            "baseline's were used"
        )
    for d in by:
        miss = sum(1 for s in segs[d] if s == MISSING_SEGMENT)
        if miss:
            warnings.append(f"{miss} cases have no {d!r} tag; they form segment {MISSING_SEGMENT}")
    epochs_reports: list[EpochReport] = []
    max_ep = {
        "baseline": max((len(p) for p in ib.values()), default=0),
        "candidate": max((len(p) for p in ic.values()), default=0),
    }
    for side in ("baseline", "candidate"):
        if max_ep[side] > 1:
            es = epoch_stats(ep_ids[side], ep_nums[side], np.asarray(ep_vals[side]))
            epochs_reports.append(
                EpochReport(
                    side=side,
                    epochs=es.epochs,
                    rates=es.rates,
                    spread=es.spread,
                    flipping=es.flipping,
                    within_variance=es.within_variance,
                )
            )
    cluster_arr: np.ndarray | None = None
    if any(c is not None for c in clus):
        cluster_arr = np.array(
            [f"c:{c}" if c is not None else f"case:{i}" for c, i in zip(clus, ids, strict=True)],
            dtype=object,
        )
    pairing = PairingReport(
        paired=len(ids),
        baseline_cases=len(ib),
        candidate_cases=len(ic),
        only_baseline=only_b,
        only_candidate=only_c,
        hash_mismatches=mism,
        error_policy=errors,
        errors_baseline=err_b,
        errors_candidate=err_c,
        excluded_for_errors=excluded,
        unscored=unscored,
        epochs_baseline=max_ep["baseline"],
        epochs_candidate=max_ep["candidate"],
    )
    prov = ProvenanceReport(
        baseline=_provenance(baseline),
        candidate=_provenance(candidate),
        cross_mismatched_cases=cross,
    )
    return Aligned(
        case_ids=ids,
        a=np.asarray(va),
        b=np.asarray(vb),
        segments=segs,
        weight=np.asarray(weight, dtype=np.float64),
        adversarial=np.asarray(adv, dtype=bool),
        cluster=cluster_arr,
        pairing=pairing,
        epochs=epochs_reports,
        provenance=prov,
        warnings=warnings,
    )
