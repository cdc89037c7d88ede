"""Floating-alias lint: model strings that a provider can repoint without telling you.

A pinned model string names one fixed snapshot: it carries a date (``2024-08-06``,
``20241022``, ``-0613``, ``-2407``), a snapshot number (``-001``), or a digest
(``@sha256:...``). A string without any of these (``gpt-4o``, ``llama3``) or with
``latest`` in it is a floating alias: the same string can serve a different model
tomorrow, and a comparison across that change measures the vendor, not your change.

Floating aliases are warnings, not errors: some endpoints (a local llama.cpp server)
serve exactly one file whatever the name. Allow them with ``alias_allow: [name]`` in
the eval config or ``allow_alias: true`` on a target.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from nullband.config.models import EvalConfig
from nullband.targets.gateways import strip_provider

_LATEST = re.compile(r"(^|[-_.:/@])latest($|[-_.:/@])", re.IGNORECASE)
_PINS = [
    re.compile(r"(19|20)\d\d-[01]\d-[0-3]\d"),  # 2024-08-06
    re.compile(r"(?<!\d)(19|20)\d\d[01]\d[0-3]\d(?!\d)"),  # 20241022
    re.compile(r"[-@_](0[1-9]|1[0-2])[0-3]\d(?!\d)"),  # -0613 (MMDD)
    re.compile(r"[-@_][2-9]\d(0[1-9]|1[0-2])(?!\d)"),  # -2407 (YYMM)
    re.compile(r"-\d{3}$"),  # -001, -002 (snapshot numbers)
    re.compile(r"@(sha256:)?[0-9a-f]{7,}$", re.IGNORECASE),  # digest or revision
]


@dataclass(frozen=True, slots=True)
class AliasWarning:
    """One model string that looks floating."""

    target: str
    model: str
    reason: str

    def message(self) -> str:
        """The warning in words, with the fix."""
        return (
            f"target {self.target!r}: model {self.model!r} looks like a floating alias "
            f"({self.reason}); pin a dated snapshot, or allow it with "
            f"'alias_allow: [{self.model}]' or 'allow_alias: true' on the target"
        )


def floating_reason(model: str) -> str | None:
    """Why ``model`` looks floating, or None when it looks pinned.

    Example:
        >>> floating_reason("gpt-4o")
        'no date, snapshot number or digest'
        >>> floating_reason("gpt-4o-2024-08-06") is None
        True
        >>> floating_reason("claude-3-5-sonnet-latest")
        "contains 'latest'"
    """
    name = strip_provider(model)
    if _LATEST.search(name):
        return "contains 'latest'"
    if any(p.search(name) for p in _PINS):
        return None
    return "no date, snapshot number or digest"


def lint_aliases(config: EvalConfig) -> list[AliasWarning]:
    """Floating-alias warnings for a config's targets (allow-lists applied)."""
    allowed = set(config.alias_allow)
    out = []
    for t in config.targets:
        if t.allow_alias or t.model in allowed:
            continue
        reason = floating_reason(t.model)
        if reason is not None:
            out.append(AliasWarning(t.name, t.model, reason))
    return out
