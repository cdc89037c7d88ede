"""Converting records, runs and cases to rows and back.

Writes go through pydantic-core's JSON serialiser (``model_dump_json``, in Rust) and
reads through ``model_validate_json``; both are several times faster than building
Python dicts first. Scores are kept out of the body so re-scoring never rewrites it.
"""

from __future__ import annotations

from typing import Any

import orjson

from nullband.records import Record
from nullband.store.base import RunInfo
from nullband.suite.case import Case

_BODY_EXCLUDE = {"scores", "score_reasons"}


def dumps(value: Any) -> str:
    """Compact JSON text (orjson; non-JSON values such as paths become strings)."""
    return orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS).decode()


def record_row(rec: Record) -> dict[str, Any]:
    """The ``records`` row of a record."""
    prov = rec.provenance
    usage = rec.usage
    return {
        "run_id": rec.run_id,
        "case_id": rec.case_id,
        "target": rec.target,
        "epoch": rec.epoch,
        "case_hash": rec.case_hash,
        "status": rec.status,
        "error_class": rec.error_class,
        "error": rec.error,
        "requested_model": prov.requested,
        "routed_model": prov.routed,
        "served_model": prov.served,
        "fingerprint": prov.fingerprint,
        "provider": prov.provider,
        "mismatch": prov.mismatch,
        "cost_usd": rec.cost_usd,
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cached_tokens": usage.cached_tokens,
        "latency_s": rec.latency_s,
        "created_at": rec.created_at,
        "scores": dumps(rec.scores),
        "score_reasons": dumps(rec.score_reasons),
        "body": rec.model_dump_json(exclude=_BODY_EXCLUDE),
    }


def record_from_row(body: str, scores: str, score_reasons: str) -> Record:
    """Rebuild a record from its body and score columns.

    The body is a JSON object written without the score keys; they are spliced in so
    that pydantic-core parses and validates the whole record in one pass.
    """
    text = f'{body[:-1]},"scores":{scores},"score_reasons":{score_reasons}}}'
    return Record.model_validate_json(text)


def case_meta_row(run_id: str, case_id: str, meta: dict[str, Any]) -> dict[str, Any]:
    """A ``run_cases`` row from RunInfo.cases metadata (no body)."""
    return {
        "run_id": run_id,
        "case_id": case_id,
        "case_hash": str(meta.get("hash") or meta.get("case_hash") or ""),
        "segments": dumps(meta.get("segments") or {}),
        "weight": float(meta.get("weight", 1.0)),
        "adversarial": bool(meta.get("adversarial", False)),
        "cluster": meta.get("cluster"),
        "body": None,
    }


def case_meta(case: Case) -> dict[str, Any]:
    """The RunInfo.cases entry of a case: {hash, segments, weight, adversarial, cluster}."""
    return {
        "hash": case.content_hash(),
        "segments": dict(case.segments),
        "weight": case.weight,
        "adversarial": case.adversarial,
        "cluster": case.cluster,
    }


def case_row(run_id: str, case: Case) -> dict[str, Any]:
    """A ``run_cases`` row with the case body."""
    row = case_meta_row(run_id, case.id, case_meta(case))
    row["body"] = case.model_dump_json()
    return row


def meta_from_row(
    case_hash: str, segments: str, weight: float, adversarial: bool, cluster: str | None
) -> dict[str, Any]:
    """RunInfo.cases entry from ``run_cases`` columns."""
    return {
        "hash": case_hash,
        "segments": orjson.loads(segments),
        "weight": float(weight),
        "adversarial": bool(adversarial),
        "cluster": cluster,
    }


def run_row(run: RunInfo) -> dict[str, Any]:
    """The ``runs`` row of a run (case metadata goes to ``run_cases``)."""
    return {
        "run_id": run.run_id,
        "created_at": run.created_at,
        "updated_at": run.updated_at,
        "status": run.status,
        "config_path": run.config_path,
        "config_hash": run.config_hash,
        "config": dumps(run.config),
        "targets": dumps(run.targets),
        "n_cases": run.n_cases,
        "epochs": run.epochs,
        "cases": "{}",
        "note": run.note,
    }


def run_from_row(row: Any, cases: dict[str, dict[str, Any]] | None = None) -> RunInfo:
    """A RunInfo from a ``runs`` row (and its cases, when loaded)."""
    return RunInfo(
        run_id=row.run_id,
        created_at=row.created_at,
        updated_at=row.updated_at,
        status=row.status,
        config_path=row.config_path,
        config_hash=row.config_hash,
        config=orjson.loads(row.config),
        targets=orjson.loads(row.targets),
        n_cases=row.n_cases,
        epochs=row.epochs,
        cases=cases or {},
        note=row.note,
    )
