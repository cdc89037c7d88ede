"""Production traces to clean data and replay suites.

ingest (OTel GenAI, LiteLLM, Bifrost, generic JSONL) -> audit (clean / noisy / corrupted)
-> scrub (PII placeholders) -> embed, cluster and sample -> replay suites, coverage,
the adversarial set; and shadow analysis of a primary against a shadow log.
See docs/traces.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nullband import _lazy

if TYPE_CHECKING:
    from nullband.traces.adversarial import AdversarialSet, AdversarialSetError, merge
    from nullband.traces.audit import audit_traces
    from nullband.traces.audit_models import (
        AuditConfig,
        AuditFlag,
        AuditReport,
        AuditSummary,
        TraceAudit,
    )
    from nullband.traces.coverage import CoverageReport, coverage
    from nullband.traces.embed import TfidfEmbedder, embed_http, embed_traces_http, task_text
    from nullband.traces.fastaudit import audit_file_fast
    from nullband.traces.ingest import (
        detect_format,
        iter_steps,
        iter_traces,
        read_traces,
        write_steps,
    )
    from nullband.traces.pipeline import audit_file
    from nullband.traces.replay import traces_to_cases, write_chat_dataset, write_suite
    from nullband.traces.sample import SampleResult, stratified_sample
    from nullband.traces.schema import TRACE_SCHEMA_VERSION, Step, StepUsage, Trace
    from nullband.traces.scrub import (
        ScrubbedTrace,
        ScrubReport,
        ScrubSession,
        presidio_finder,
        require_scrubbed,
    )
    from nullband.traces.shadow import ShadowReport, shadow_files, shadow_report

_LAZY: dict[str, str] = {
    "AdversarialSet": "nullband.traces.adversarial",
    "AdversarialSetError": "nullband.traces.adversarial",
    "AuditConfig": "nullband.traces.audit_models",
    "AuditFlag": "nullband.traces.audit_models",
    "AuditReport": "nullband.traces.audit_models",
    "AuditSummary": "nullband.traces.audit_models",
    "CoverageReport": "nullband.traces.coverage",
    "SampleResult": "nullband.traces.sample",
    "ScrubReport": "nullband.traces.scrub",
    "ScrubSession": "nullband.traces.scrub",
    "ScrubbedTrace": "nullband.traces.scrub",
    "ShadowReport": "nullband.traces.shadow",
    "Step": "nullband.traces.schema",
    "StepUsage": "nullband.traces.schema",
    "TRACE_SCHEMA_VERSION": "nullband.traces.schema",
    "TfidfEmbedder": "nullband.traces.embed",
    "Trace": "nullband.traces.schema",
    "TraceAudit": "nullband.traces.audit_models",
    "audit_file": "nullband.traces.pipeline",
    "audit_file_fast": "nullband.traces.fastaudit",
    "audit_traces": "nullband.traces.audit",
    "coverage": "nullband.traces.coverage",
    "detect_format": "nullband.traces.ingest",
    "embed_http": "nullband.traces.embed",
    "embed_traces_http": "nullband.traces.embed",
    "iter_steps": "nullband.traces.ingest",
    "iter_traces": "nullband.traces.ingest",
    "merge": "nullband.traces.adversarial",
    "presidio_finder": "nullband.traces.scrub",
    "read_traces": "nullband.traces.ingest",
    "require_scrubbed": "nullband.traces.scrub",
    "shadow_files": "nullband.traces.shadow",
    "shadow_report": "nullband.traces.shadow",
    "stratified_sample": "nullband.traces.sample",
    "task_text": "nullband.traces.embed",
    "traces_to_cases": "nullband.traces.replay",
    "write_chat_dataset": "nullband.traces.replay",
    "write_steps": "nullband.traces.ingest",
    "write_suite": "nullband.traces.replay",
}


def __getattr__(name: str) -> Any:
    return _lazy.load(globals(), _LAZY, name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "TRACE_SCHEMA_VERSION",
    "AdversarialSet",
    "AdversarialSetError",
    "AuditConfig",
    "AuditFlag",
    "AuditReport",
    "AuditSummary",
    "CoverageReport",
    "SampleResult",
    "ScrubReport",
    "ScrubSession",
    "ScrubbedTrace",
    "ShadowReport",
    "Step",
    "StepUsage",
    "TfidfEmbedder",
    "Trace",
    "TraceAudit",
    "audit_file",
    "audit_file_fast",
    "audit_traces",
    "coverage",
    "detect_format",
    "embed_http",
    "embed_traces_http",
    "iter_steps",
    "iter_traces",
    "merge",
    "presidio_finder",
    "read_traces",
    "require_scrubbed",
    "shadow_files",
    "shadow_report",
    "stratified_sample",
    "task_text",
    "traces_to_cases",
    "write_chat_dataset",
    "write_steps",
    "write_suite",
]
