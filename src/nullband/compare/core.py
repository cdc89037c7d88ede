"""compare_rows: baseline vs candidate on one metric, overall, per segment and weighted."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from nullband.compare.model import Comparison, ErrorPolicy, SegmentSummary, SourceInfo
from nullband.compare.pairing import Aligned, align
from nullband.errors import UsageError
from nullband.records import ResultRow
from nullband.stats.bootstrap import CIMethod
from nullband.stats.multiplicity import benjamini_hochberg, holm
from nullband.stats.paired import PairedSummary, paired_summary


def _check_args(confidence: float, resamples: int, min_cases: int) -> None:
    if not 0 < confidence < 1:
        raise UsageError(f"--confidence must be between 0 and 1, got {confidence}")
    if resamples < 100:
        raise UsageError(
            f"--resamples must be at least 100, got {resamples}", hint="10000 is the default"
        )
    if min_cases < 1:
        raise UsageError(f"min_cases must be at least 1, got {min_cases}")


def case_weights(aligned: Aligned, weights: Mapping[str, float]) -> np.ndarray:
    """Per-case weights: the case's own weight times each matching slice multiplier.

    ``weights`` keys: ``adversarial`` (multiplier for adversarial cases), or
    ``DIM=VALUE`` for a segment (e.g. ``customer=acme: 2``).
    """
    w = aligned.weight.copy()
    for key, mult in weights.items():
        if key == "adversarial":
            w[aligned.adversarial] *= mult
        elif "=" in key:
            dim, val = key.split("=", 1)
            if dim not in aligned.segments:
                raise UsageError(f"weight {key!r} names dimension {dim!r}, which is not in --by")
            w[np.asarray(aligned.segments[dim]) == val] *= mult
        else:
            raise UsageError(
                f"unknown weight key {key!r}", hint="use 'adversarial' or 'DIMENSION=VALUE'"
            )
    return w


def compare_rows(
    baseline: Sequence[ResultRow],
    candidate: Sequence[ResultRow],
    *,
    metric: str = "pass",
    by: Sequence[str] = (),
    confidence: float = 0.95,
    resamples: int = 10_000,
    seed: int = 0,
    ci_method: CIMethod = "percentile",
    min_cases: int = 20,
    weights: Mapping[str, float] | None = None,
    errors: ErrorPolicy = "fail",
    baseline_source: SourceInfo | None = None,
    candidate_source: SourceInfo | None = None,
) -> Comparison:
    """Compare two result sets on ``metric``, overall and per segment of each ``by`` dimension.

    Args:
        baseline: the incumbent's rows (any number of epochs per case).
        candidate: the candidate's rows.
        metric: score name, e.g. 'pass' (binary) or 'arg_f1' (continuous).
        by: segment dimensions (keys of the rows' ``segments``), e.g. ['customer'].
        confidence: interval level.
        resamples: bootstrap resamples.
        seed: bootstrap seed (stored in the result).
        ci_method: 'percentile' or 'bca'.
        min_cases: segments with fewer paired cases are flagged low-confidence.
        weights: slice multipliers for a weighted comparison, e.g. {'adversarial': 3}.
        errors: 'fail' (errored rows score 0) or 'exclude' (their cases are left out).

    Returns:
        A :class:`Comparison` without a gate (see :func:`evaluate_gate`).

    Raises:
        CompareError: the sides cannot be paired (duplicates, no common cases, no metric).

    Example:
        >>> cmp = compare_rows(base_rows, cand_rows, metric="pass", by=["customer"])  # doctest: +SKIP
        >>> cmp.overall.delta_ci  # doctest: +SKIP
    """
    _check_args(confidence, resamples, min_cases)
    dims = list(dict.fromkeys(by))
    al = align(baseline, candidate, metric=metric, by=dims, errors=errors)
    kw = {"confidence": confidence, "resamples": resamples, "seed": seed, "ci_method": ci_method}
    overall = paired_summary(al.a, al.b, clusters=al.cluster, **kw)  # type: ignore[arg-type]
    kind = overall.kind  # one procedure for every segment, decided on all cases
    segments: list[SegmentSummary] = []
    for dim in dims:
        values, inv = np.unique(np.asarray(al.segments[dim], dtype=str), return_inverse=True)
        order = np.argsort(inv, kind="stable")
        bounds = np.r_[0, np.cumsum(np.bincount(inv, minlength=values.shape[0]))]
        group: list[SegmentSummary] = []
        for j, value in enumerate(values.tolist()):
            mask = np.sort(order[bounds[j] : bounds[j + 1]])
            cl = al.cluster[mask] if al.cluster is not None else None
            s = paired_summary(al.a[mask], al.b[mask], clusters=cl, kind=kind, **kw)  # type: ignore[arg-type]
            group.append(
                SegmentSummary(
                    **s.model_dump(),
                    dimension=dim,
                    segment=str(value),
                    low_confidence=s.n < min_cases,
                )
            )
        gated = [g.p_value if not g.low_confidence else None for g in group]
        for seg, ph, pb in zip(group, holm(gated), benjamini_hochberg(gated), strict=True):
            seg.p_adjusted = ph
            seg.p_bh = pb
            if seg.low_confidence:
                seg.unavailable["p_adjusted"] = (
                    f"n = {seg.n} < min_cases = {min_cases}: shown, flagged, not gated"
                )
        segments.extend(group)
    weighted: PairedSummary | None = None
    if weights:
        w = case_weights(al, weights)
        weighted = paired_summary(al.a, al.b, weights=w, clusters=al.cluster, kind=kind, **kw)  # type: ignore[arg-type]
    warnings = list(al.warnings)
    low = [s for s in segments if s.low_confidence]
    if low:
        warnings.append(
            f"{len(low)} segments have fewer than {min_cases} cases: flagged low-confidence, "
            "not gated"
        )
    for side_name in ("baseline", "candidate"):
        side = getattr(al.provenance, side_name)
        if side.mismatched_rows:
            warnings.append(
                f"{side_name}: {side.mismatched_rows} rows were served by a model other than "
                f"the requested one ({', '.join(side.served)}); a gate makes this INVALID"
            )
    for ep in al.epochs:
        if ep.spread is not None and ep.spread > 0.01 + 1e-12:
            warnings.append(
                f"{ep.side} epochs spread by {ep.spread * 100:.1f} points with "
                f"{len(ep.flipping)} flipping cases; at temperature 0 this means a "
                "nondeterministic harness"
            )
    multi_epoch = al.pairing.epochs_baseline > 1 or al.pairing.epochs_candidate > 1
    if overall.kind == "continuous" and multi_epoch and _in_unit(al):
        warnings.append(
            "per-case means over epochs are not 0/1, so McNemar does not apply; the paired "
            "t-test is used"
        )
    return Comparison(
        metric=metric,
        confidence=confidence,
        seed=seed,
        resamples=resamples,
        ci_method=ci_method,
        min_cases=min_cases,
        by=dims,
        baseline=baseline_source or SourceInfo(label="baseline", kind="rows", rows=len(baseline)),
        candidate=candidate_source
        or SourceInfo(label="candidate", kind="rows", rows=len(candidate)),
        overall=overall,
        segments=segments,
        weights=dict(weights) if weights else None,
        weighted=weighted,
        pairing=al.pairing,
        epochs=al.epochs,
        provenance=al.provenance,
        warnings=warnings,
    )


def _in_unit(al: Aligned) -> bool:
    """All per-case values lie in [0, 1]."""
    return bool(np.all((al.a >= 0) & (al.a <= 1)) and np.all((al.b >= 0) & (al.b <= 1)))
