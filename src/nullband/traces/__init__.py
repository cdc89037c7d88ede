"""Production traces to clean data and replay suites.

ingest (OTel GenAI, LiteLLM, Bifrost, generic JSONL) -> audit (clean / noisy / corrupted)
-> scrub (PII placeholders) -> embed, cluster and sample -> replay suites, coverage,
the adversarial set; and shadow analysis of a primary against a shadow log.
See docs/traces.md.
"""

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
from nullband.traces.ingest import detect_format, iter_steps, iter_traces, read_traces, write_steps
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
