"""Prompt-prefix stability per tenant: where prompts diverge, the block-level prefix-cache
hit rate they can expect, and the volatile fields (timestamps, UUIDs, hashes) that break it.

The cache model is vLLM's automatic prefix caching: prompts are cut into blocks of
``block_size`` tokens; a block is reused only when it and every block before it were
seen before. We replay a tenant's prompts in order through an unbounded cache (no
eviction, one replica), so the rate is an upper bound for that traffic; cold misses of
the first prompt of each prefix are included.
"""

from __future__ import annotations

import itertools
import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import orjson
from pydantic import BaseModel, Field

from nullband.errors import InputError
from nullband.load.tokenizers import Tokenizer

PREFIX_SCHEMA_VERSION = 1

VOLATILE_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("uuid", re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")),
    ("timestamp", re.compile(
        r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?")),
    ("date", re.compile(r"\b\d{4}-\d{2}-\d{2}\b|\b\d{1,2}/\d{1,2}/\d{2,4}\b")),
    ("time", re.compile(r"\b\d{1,2}:\d{2}(?::\d{2})?\b")),
    ("epoch", re.compile(r"\b1[4-9]\d{8}(?:\d{3})?\b")),
    ("hash", re.compile(r"\b[0-9a-fA-F]{12,}\b")),
    ("token", re.compile(r"\b(?=[A-Za-z0-9_\-]*\d)(?=[A-Za-z0-9_\-]*[A-Za-z])[A-Za-z0-9_\-]{16,}\b")),
    ("number", re.compile(r"\b\d{5,}\b")),
)  # fmt: skip
"""Kinds of volatile content, most specific first."""


class PromptItem(BaseModel):
    """One prompt of one tenant."""

    tenant: str = Field(description="Tenant label.")
    text: str = Field(description="The prompt as the server sees it (messages rendered).")


class VolatileField(BaseModel):
    """A kind of volatile content found where a tenant's prompts diverge."""

    kind: str = Field(description="uuid, timestamp, date, time, epoch, hash, token, number.")
    example: str = Field(description="One value as it appeared.")
    token_position: int = Field(description="Median token index where the field starts.")
    share: float = Field(description="Share of prompts whose divergence it caused.")


class TenantPrefix(BaseModel):
    """Prefix stability of one tenant."""

    n: int = Field(description="Prompts.")
    mean_tokens: float = Field(description="Mean prompt length in tokens.")
    divergence_median: int | None = Field(
        description="Median token index where a prompt first differs from its closest "
        "neighbour; null with fewer than 2 prompts."
    )
    divergence_min: int | None = Field(description="Smallest such index.")
    hit_rate: float = Field(description="Estimated prefix-cache hit rate (tokens hit / tokens).")
    volatile: list[VolatileField] = Field(description="Volatile fields at the divergence.")
    stable_prefix_tokens: int | None = Field(
        description="Median shared prefix once the volatile fields are taken out."
    )
    hit_rate_after_fix: float | None = Field(
        description="Estimated hit rate with the volatile fields moved to the end."
    )
    fix: str | None = Field(description="What to change, in words.")


class PrefixReport(BaseModel):
    """nullband prefix: per-tenant prefix stability."""

    schema_version: int = Field(default=PREFIX_SCHEMA_VERSION, description="Schema version.")
    kind: Literal["prefix_report"] = Field(default="prefix_report", description="File kind.")
    tokenizer: str = Field(description="Which tokenizer produced the token counts.")
    notes: list[str] = Field(default_factory=list, description="Tokenizer fallbacks tried.")
    block_size: int = Field(description="Cache block size in tokens.")
    tenants: dict[str, TenantPrefix] = Field(description="Per tenant.")


def _render(messages: Any) -> str:
    parts = []
    for m in messages:
        if isinstance(m, dict):
            c = m.get("content")
            if isinstance(c, list):
                c = "".join(p.get("text", "") for p in c if isinstance(p, dict))
            parts.append(f"<|{m.get('role', 'user')}|> {c or ''}\n")
    return "".join(parts)


def _get(obj: dict[str, Any], dotted: str) -> Any:
    cur: Any = obj
    for part in dotted.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return None
        cur = cur[part]
    return cur


def read_prompts(path: str | Path, tenant_field: str = "tenant") -> list[PromptItem]:
    """Read prompts from JSONL: ``prompt`` (text), ``messages`` or ``input`` (text or chat
    messages, rendered as ``<|role|> content``), and a tenant at ``tenant_field`` (dotted).

    Raises:
        InputError: a line is not JSON or has no prompt (names the line).
    """
    p = Path(path)
    try:
        lines = p.read_bytes().splitlines()
    except OSError as exc:
        raise InputError(f"cannot read prompts: {exc.strerror}", path=p) from None
    out = []
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise InputError(f"not JSON: {exc}", path=p, line=n) from None
        if not isinstance(obj, dict):
            raise InputError("expected a JSON object", path=p, line=n)
        val = obj.get("prompt", obj.get("messages", obj.get("input")))
        if isinstance(val, list):
            text = _render(val)
        elif isinstance(val, str):
            text = val
        else:
            raise InputError(
                "no prompt: give 'prompt' (text), 'messages' or 'input'", path=p, line=n
            )
        tenant = _get(obj, tenant_field)
        out.append(PromptItem(tenant=str(tenant) if tenant is not None else "_", text=text))
    if not out:
        raise InputError("no prompts in the file", path=p)
    return out


def cache_hits(prompts: Sequence[Sequence[int]], block_size: int) -> list[int]:
    """Tokens served from an unbounded block cache for each prompt, replayed in order."""
    seen: set[int] = set()
    hits = []
    for toks in prompts:
        chain = 0
        hit = 0
        streak = True
        for j in range(len(toks) // block_size):
            chain = hash((chain, tuple(toks[j * block_size : (j + 1) * block_size])))
            if streak and chain in seen:
                hit += block_size
            else:
                streak = False
                seen.add(chain)
        hits.append(hit)
    return hits


def _lcp(a: Sequence[Any], b: Sequence[Any]) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def nearest_lcp(seqs: Sequence[Sequence[Any]]) -> list[int]:
    """For each sequence, the longest common prefix with any other one (sorted neighbours)."""
    order = sorted(range(len(seqs)), key=lambda i: seqs[i])  # type: ignore[arg-type,return-value]
    out = [0] * len(seqs)
    for a, b in itertools.pairwise(order):
        lc = _lcp(seqs[a], seqs[b])
        out[a] = max(out[a], lc)
        out[b] = max(out[b], lc)
    return out


@dataclass
class _Field:
    kind: str
    start: int
    end: int
    text: str


def _field_at(text: str, pos: int) -> _Field | None:
    for kind, pat in VOLATILE_PATTERNS:
        for m in pat.finditer(text, max(0, pos - 200), min(len(text), pos + 200)):
            if m.start() <= pos < m.end():
                return _Field(kind, m.start(), m.end(), m.group(0))
    return None


def _rate(hits: Sequence[int], lengths: Sequence[int]) -> float:
    total = sum(lengths)
    return sum(hits) / total if total else 0.0


def analyze_tenant(texts: Sequence[str], tok: Tokenizer, block_size: int) -> TenantPrefix:
    """Prefix stability of one tenant's prompts (in arrival order)."""
    tokens = [tok.encode(t) for t in texts]
    lengths = [len(t) for t in tokens]
    hits = cache_hits(tokens, block_size)
    n = len(texts)
    div = nearest_lcp(tokens) if n >= 2 else []
    masked = list(texts)
    found: dict[str, list[tuple[int, str]]] = {}
    for _ in range(6):  # peel volatile fields off one layer at a time
        if n < 2:
            break
        cdiv = nearest_lcp(masked)
        new = False
        for i, c in enumerate(cdiv):
            if c >= len(masked[i]):
                continue
            f = _field_at(masked[i], c)
            if f is None:
                continue
            new = True
            hits_k = found.setdefault(f.kind, [])
            if len(hits_k) < 25:  # the median position needs a sample, not every prompt
                at = max(0, texts[i].find(f.text))
                # the token index where the field starts, whatever the tokenizer merges:
                # the first token that changes when only the field changes
                other = texts[i][:at] + "#" + texts[i][at + len(f.text) :]
                hits_k.append((_lcp(tokens[i], tok.encode(other)), f.text))
            else:
                hits_k.append((hits_k[0][0], f.text))
        if not new:
            break
        masked = [_mask(t, set(found)) for t in masked]
    volatile = [
        VolatileField(
            kind=k,
            example=v[0][1],
            token_position=int(statistics.median(p for p, _ in v)),
            share=min(1.0, len(v) / n),
        )
        for k, v in found.items()
    ]
    volatile.sort(key=lambda f: f.token_position)
    stable = after = None
    fix = None
    if volatile:
        cd = nearest_lcp(masked)
        stable = int(
            statistics.median(
                len(tok.encode(m[:c].replace("\x00", ""))) for m, c in zip(masked, cd, strict=True)
            )
        )
        fixed = [_move_to_end(t, set(found)) for t in texts]
        ftoks = [tok.encode(t) for t in fixed]
        after = _rate(cache_hits(ftoks, block_size), [len(t) for t in ftoks])
        names = ", ".join(f"the {f.kind} (token {f.token_position})" for f in volatile)
        fix = (
            f"move {names} after token {stable}: after the stable prefix, e.g. to the end of "
            f"the prompt; the estimated hit rate rises from {_rate(hits, lengths):.0%} to "
            f"{after:.0%}"
        )
    return TenantPrefix(
        n=n,
        mean_tokens=sum(lengths) / n if n else 0.0,
        divergence_median=int(statistics.median(div)) if div else None,
        divergence_min=min(div) if div else None,
        hit_rate=_rate(hits, lengths),
        volatile=volatile,
        stable_prefix_tokens=stable,
        hit_rate_after_fix=after,
        fix=fix,
    )


def _mask(text: str, kinds: set[str]) -> str:
    for kind, pat in VOLATILE_PATTERNS:
        if kind in kinds:
            text = pat.sub("\x00", text)
    return text


def _move_to_end(text: str, kinds: set[str]) -> str:
    moved: list[str] = []
    for kind, pat in VOLATILE_PATTERNS:
        if kind in kinds:
            moved.extend(pat.findall(text))
            text = pat.sub("", text)
    return text + "\n" + " ".join(moved)


def analyze_prompts(
    items: Sequence[PromptItem],
    tok: Tokenizer,
    block_size: int = 16,
    notes: Sequence[str] = (),
) -> PrefixReport:
    """Per-tenant prefix report of prompts in arrival order."""
    by: dict[str, list[str]] = {}
    for it in items:
        by.setdefault(it.tenant, []).append(it.text)
    return PrefixReport(
        tokenizer=tok.name,
        notes=list(notes),
        block_size=block_size,
        tenants={t: analyze_tenant(v, tok, block_size) for t, v in sorted(by.items())},
    )
