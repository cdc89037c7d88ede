"""The Comparison record: what ``nullband compare --format json`` prints and CI reads.

Field names are part of the interface (issue #3's JSON shape); more may be added, none
renamed without a ``schema_version`` bump.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, Field

from nullband.stats.paired import PairedSummary

COMPARISON_SCHEMA_VERSION = 1

Decision = Literal["PASS", "FAIL", "INCONCLUSIVE", "INVALID"]
EXIT_CODES: dict[str, int] = {"PASS": 0, "FAIL": 1, "INCONCLUSIVE": 3, "INVALID": 4}
ErrorPolicy = Literal["fail", "exclude"]


class SegmentSummary(PairedSummary):
    """One segment (a value of one dimension), with multiplicity-adjusted p-values."""

    dimension: str = Field(description="The segment dimension, e.g. 'customer'.")
    segment: str = Field(description="The segment value, e.g. 'acme'.")
    p_adjusted: float | None = Field(
        default=None,
        description="Holm-adjusted p across this dimension's segments with n >= min_cases.",
    )
    adjustment: Literal["holm"] = Field(default="holm", description="How p_adjusted was made.")
    p_bh: float | None = Field(
        default=None, description="Benjamini-Hochberg adjusted p (exploratory views)."
    )
    low_confidence: bool = Field(
        description="True when n < min_cases: shown, flagged, and never gated."
    )


class SourceInfo(BaseModel):
    """Where one side's results came from."""

    label: str = Field(description="What the user passed: a file path or a run id.")
    kind: Literal["file", "run", "rows"] = Field(description="Results file, stored run, or rows.")
    target: str | None = Field(default=None, description="Target of a stored run.")
    rows: int = Field(default=0, description="Rows read (cases x epochs).")


class PairingReport(BaseModel):
    """How the two sides were aligned, and what was left out."""

    paired: int = Field(description="Cases present and usable on both sides.")
    baseline_cases: int = Field(description="Distinct cases in the baseline.")
    candidate_cases: int = Field(description="Distinct cases in the candidate.")
    only_baseline: list[str] = Field(
        default_factory=list, description="Cases only the baseline has."
    )
    only_candidate: list[str] = Field(
        default_factory=list, description="Cases only the candidate has."
    )
    hash_mismatches: list[str] = Field(
        default_factory=list,
        description="Cases whose content hash differs between sides (left out: not the same case).",
    )
    error_policy: ErrorPolicy = Field(
        description="'fail': a row with an error scores 0; 'exclude': its case is left out."
    )
    errors_baseline: list[str] = Field(default_factory=list, description="Cases with errored rows.")
    errors_candidate: list[str] = Field(
        default_factory=list, description="Cases with errored rows (candidate)."
    )
    excluded_for_errors: list[str] = Field(
        default_factory=list, description="Cases left out because of errors ('exclude' policy)."
    )
    unscored: list[str] = Field(
        default_factory=list, description="Cases without a value for the metric (left out)."
    )
    epochs_baseline: int = Field(description="Most epochs of any baseline case.")
    epochs_candidate: int = Field(description="Most epochs of any candidate case.")


class EpochReport(BaseModel):
    """Repeat runs of one side: per-epoch rates, their spread and the flipping cases."""

    side: Literal["baseline", "candidate"] = Field(description="Which side.")
    epochs: list[int] = Field(description="Epoch numbers.")
    rates: list[float] = Field(description="Mean of the metric in each epoch.")
    spread: float | None = Field(description="max - min of the rates; null with one epoch.")
    flipping: list[str] = Field(description="Cases whose score changed between epochs.")
    within_variance: float | None = Field(
        default=None, description="Mean within-case variance across epochs."
    )


class ProvenanceSide(BaseModel):
    """Which models served one side."""

    requested: dict[str, int] = Field(default_factory=dict, description="Requested model -> rows.")
    served: dict[str, int] = Field(default_factory=dict, description="Served model -> rows.")
    fingerprints: dict[str, int] = Field(
        default_factory=dict, description="system_fingerprint -> rows."
    )
    mismatched_rows: int = Field(
        default=0, description="Rows whose served model is not the pinned one."
    )
    mismatched_cases: list[str] = Field(
        default_factory=list, description="Up to 50 cases with a served/pinned mismatch."
    )
    unknown_rows: int = Field(default=0, description="Rows without a served model.")


class ProvenanceReport(BaseModel):
    """Provenance of both sides."""

    baseline: ProvenanceSide = Field(description="Baseline side.")
    candidate: ProvenanceSide = Field(description="Candidate side.")
    cross_mismatched_cases: list[str] = Field(
        default_factory=list,
        description="Up to 50 paired cases served by different models on the two sides.",
    )


class SegmentCheck(BaseModel):
    """One gated segment under one rule."""

    dimension: str = Field(description="Segment dimension.")
    segment: str = Field(description="Segment value.")
    n: int = Field(description="Paired cases in the segment.")
    decision: Decision = Field(description="This segment's verdict.")
    value: float | None = Field(description="The delta (or rate, for floors) checked.")
    ci: list[float] | None = Field(description="Its interval.")
    p_value: float | None = Field(default=None, description="One-sided p of the rule's test.")
    p_adjusted: float | None = Field(default=None, description="Holm-adjusted p.")
    reason: str = Field(description="The verdict in words.")


class RuleResult(BaseModel):
    """One gate rule's verdict."""

    name: str = Field(description="Rule name (from the config, or its kind).")
    kind: str = Field(description="Rule kind.")
    decision: Decision = Field(description="PASS, FAIL, INCONCLUSIVE or INVALID.")
    reason: str = Field(description="The verdict in words.")
    segments: list[SegmentCheck] = Field(
        default_factory=list, description="Per-segment checks, for segment rules."
    )


class GateResult(BaseModel):
    """The gate decision."""

    decision: Decision = Field(description="The overall decision.")
    exit_code: int = Field(description="0 PASS, 1 FAIL, 3 INCONCLUSIVE, 4 INVALID.")
    reasons: list[str] = Field(description="Why, in words, most important first.")
    rules: list[RuleResult] = Field(default_factory=list, description="Every rule's verdict.")
    checks: list[RuleResult] = Field(
        default_factory=list,
        description="Validity checks (provenance, alignment, epochs, judges).",
    )
    config: str | None = Field(default=None, description="The gate config file, if any.")


class Comparison(BaseModel):
    """A baseline and a candidate compared on one metric, overall and per segment."""

    schema_version: int = Field(default=COMPARISON_SCHEMA_VERSION, description="Schema version.")
    metric: str = Field(description="The metric compared, e.g. 'pass'.")
    confidence: float = Field(description="Confidence level of every interval.")
    seed: int | None = Field(description="Seed of every bootstrap.")
    resamples: int = Field(description="Bootstrap resamples.")
    ci_method: Literal["percentile", "bca"] = Field(description="Bootstrap interval requested.")
    min_cases: int = Field(description="Segments below this are flagged and not gated.")
    by: list[str] = Field(default_factory=list, description="Segment dimensions.")
    baseline: SourceInfo = Field(description="Where the baseline came from.")
    candidate: SourceInfo = Field(description="Where the candidate came from.")
    overall: PairedSummary = Field(description="All paired cases.")
    segments: list[SegmentSummary] = Field(default_factory=list, description="Per segment.")
    weights: dict[str, float] | None = Field(
        default=None, description="Slice weights used for 'weighted' (e.g. adversarial: 3)."
    )
    weighted: PairedSummary | None = Field(
        default=None, description="The weighted comparison, when weights were given."
    )
    pairing: PairingReport = Field(description="Alignment of the two sides.")
    epochs: list[EpochReport] = Field(default_factory=list, description="Repeat-run reports.")
    provenance: ProvenanceReport = Field(description="Which models served each side.")
    warnings: list[str] = Field(default_factory=list, description="Things to look at, in words.")
    gate: GateResult | None = Field(default=None, description="The gate decision, when gated.")
    created_at: datetime = Field(
        default_factory=lambda: datetime.now(UTC), description="UTC time of the comparison."
    )
