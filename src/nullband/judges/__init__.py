"""nullband.judges: LLM judges that are measured before they are trusted.

- scoring: :mod:`nullband.score.judge` (``judge_rubric``, ``judge_pairwise``) on top of
  :mod:`~nullband.judges.engine` (asking), :mod:`~nullband.judges.pairwise` (both orders),
  :mod:`~nullband.judges.panel` (repeats, ensembles), :mod:`~nullband.judges.cache`;
- auditing: :func:`run_audit` (``nullband judge audit``) computes a :class:`JudgeAudit`;
- gating: :func:`check_judges_for_gate` tells a comparison gate whether it may rely on
  the judges behind a metric.

See docs/judges.md.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nullband.judges.agreement import cohen_kappa, krippendorff_alpha, mcnemar
    from nullband.judges.audit import JudgeAudit, compute_audit
    from nullband.judges.audit_run import AuditConfig, run_audit
    from nullband.judges.panel import PanelConfig
    from nullband.judges.parse import parse_grade, parse_verdict
    from nullband.judges.trust import JudgeGateCheck, TrustFloors, check_judges_for_gate

# Loaded on first use, so that `import nullband.judges.trust` (what a gate needs) does not
# pull in the HTTP client and the audit runner.
_WHERE = {
    "AuditConfig": "audit_run",
    "JudgeAudit": "audit",
    "JudgeGateCheck": "trust",
    "PanelConfig": "panel",
    "TrustFloors": "trust",
    "check_judges_for_gate": "trust",
    "cohen_kappa": "agreement",
    "compute_audit": "audit",
    "krippendorff_alpha": "agreement",
    "mcnemar": "agreement",
    "parse_grade": "parse",
    "parse_verdict": "parse",
    "run_audit": "audit_run",
}

__all__ = [
    "AuditConfig",
    "JudgeAudit",
    "JudgeGateCheck",
    "PanelConfig",
    "TrustFloors",
    "check_judges_for_gate",
    "cohen_kappa",
    "compute_audit",
    "krippendorff_alpha",
    "mcnemar",
    "parse_grade",
    "parse_verdict",
    "run_audit",
]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'nullband.judges' has no attribute {name!r}")
    return getattr(importlib.import_module(f"nullband.judges.{_WHERE[name]}"), name)
