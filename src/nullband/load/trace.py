"""Traffic shapes: trace files (JSONL) and synthetic arrivals, turned into a schedule.

A trace file is JSON lines. An optional first line ``{"kind": "header", ...}`` carries
provenance (``schema``, ``source``, ``timestamp_unit`` "s" or "ms", ``block_size`` for
Mooncake ``hash_ids``). Each other line is one request (:class:`TraceRow`). Mooncake
rows (``timestamp`` in ms, ``input_length``, ``output_length``, ``hash_ids``) load as is.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from nullband._canonical import content_hash
from nullband.errors import InputError
from nullband.load.config import SyntheticTraffic

TRACE_SCHEMA = "nullband.loadshape/v1"


class PrefixRef(BaseModel):
    """A shared-prefix group: requests with the same id start with the same tokens."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(description="Prefix group id (e.g. a system prompt version).")
    tokens: int = Field(ge=0, description="Length of the shared prefix in tokens.")


class TraceRow(BaseModel):
    """One request of a traffic shape."""

    model_config = ConfigDict(extra="ignore")

    t: float = Field(ge=0, description="Arrival offset from the window start, seconds.")
    tenant: str = Field(default="_", description="Tenant label ('_' when unknown).")
    prompt_tokens: int = Field(ge=1, description="Prompt tokens (server count incl. template).")
    output_tokens: int = Field(ge=1, description="Completion tokens to generate (pinned).")
    prefix: PrefixRef | None = Field(default=None, description="Shared-prefix group, if any.")
    hash_ids: list[int] | None = Field(
        default=None, description="Mooncake-style prefix block hashes (block size in header)."
    )
    id: str | None = Field(default=None, description="Stable request id (index otherwise).")


class TraceHeader(BaseModel):
    """Provenance of a trace file (its optional first line)."""

    model_config = ConfigDict(extra="allow")

    kind: str = Field(default="header", description="Always 'header'.")
    schema_: str = Field(default=TRACE_SCHEMA, alias="schema", description="Trace schema name.")
    source: str | None = Field(default=None, description="Where the trace came from.")
    timestamp_unit: str = Field(default="s", description="'s' or 'ms' for the arrival offsets.")
    block_size: int = Field(default=512, ge=1, description="Token block size of hash_ids.")


class PlannedRequest(BaseModel):
    """One request of a schedule: when to send it and what to send."""

    idx: int = Field(description="Position in the schedule (0-based, by planned time).")
    id: str = Field(description="Request id (from the trace, or the index).")
    offset_s: float = Field(description="Planned send time, seconds after the schedule start.")
    tenant: str = Field(description="Tenant label.")
    prompt_tokens: int = Field(description="Target prompt length in tokens.")
    output_tokens: int = Field(description="Pinned output length in tokens.")
    prefix_id: str | None = Field(description="Shared-prefix group id, if any.")
    prompt: str = Field(description="The synthesized prompt text.")


class Schedule(BaseModel):
    """A precomputed open-loop schedule; the same seed gives the same schedule."""

    source: str = Field(description="'trace:<path>' or 'synthetic:<arrival>@<rate>/s'.")
    seed: int = Field(description="Seed used for arrivals and prompts.")
    requests: list[PlannedRequest] = Field(description="Requests sorted by planned time.")

    @property
    def duration_s(self) -> float:
        """Planned offset of the last request."""
        return self.requests[-1].offset_s if self.requests else 0.0

    @property
    def offered_rate(self) -> float | None:
        """(n - 1) / span of planned offsets; None with fewer than 2 requests or no span."""
        n = len(self.requests)
        span = self.requests[-1].offset_s - self.requests[0].offset_s if n else 0.0
        return (n - 1) / span if n >= 2 and span > 0 else None

    def fingerprint(self) -> str:
        """Hash of what is sent when (not of ids): equal for aligned A/B runs."""
        return content_hash(
            [
                [round(r.offset_s, 9), r.tenant, r.prompt_tokens, r.output_tokens, r.prompt]
                for r in self.requests
            ]
        )


# Short, common English words: about one BPE token each with a leading space.
_WORDS = [
    "the",
    "of",
    "and",
    "to",
    "in",
    "is",
    "it",
    "you",
    "that",
    "he",
    "was",
    "for",
    "on",
    "are",
    "with",
    "as",
    "his",
    "they",
    "be",
    "at",
    "one",
    "have",
    "this",
    "from",
    "or",
    "had",
    "by",
    "hot",
    "word",
    "but",
    "what",
    "some",
    "we",
    "can",
    "out",
    "other",
    "were",
    "all",
    "there",
    "when",
    "up",
    "use",
    "your",
    "how",
    "said",
    "an",
    "each",
    "she",
    "which",
    "do",
    "their",
    "time",
    "if",
    "will",
    "way",
    "about",
    "many",
    "then",
    "them",
    "write",
    "would",
    "like",
    "so",
    "these",
    "her",
    "long",
    "make",
    "thing",
    "see",
    "him",
    "two",
    "has",
    "look",
    "more",
    "day",
    "could",
    "go",
    "come",
    "did",
    "number",
    "sound",
    "no",
    "most",
    "people",
    "my",
    "over",
    "know",
    "water",
    "than",
    "call",
    "first",
    "who",
    "may",
    "down",
    "side",
    "been",
    "now",
    "find",
    "any",
    "new",
    "work",
    "part",
    "take",
    "get",
    "place",
    "made",
    "live",
    "where",
    "after",
    "back",
    "little",
    "only",
    "round",
    "man",
    "year",
    "came",
    "show",
    "every",
    "good",
    "me",
    "give",
    "our",
    "under",
    "name",
    "very",
    "through",
    "just",
    "form",
    "sentence",
    "great",
    "think",
    "say",
    "help",
    "low",
    "line",
    "differ",
    "turn",
    "cause",
    "much",
    "mean",
    "before",
    "move",
    "right",
    "boy",
    "old",
    "too",
    "same",
    "tell",
]


def _words(seed_key: str, n: int) -> list[str]:
    if n <= 0:
        return []
    rng = np.random.default_rng(int(content_hash(seed_key), 16))
    return [_WORDS[i] for i in rng.integers(0, len(_WORDS), size=n)]


def synth_prompt(
    idx: int,
    seed: int,
    prompt_tokens: int,
    prefix: tuple[str, int] | None = None,
    hash_ids: tuple[list[int], int] | None = None,
) -> str:
    """A deterministic prompt of about ``prompt_tokens`` words.

    Shared prefixes come first (from the prefix id, or one block per Mooncake hash id),
    then a per-request nonce so unrelated requests cannot share cache blocks by accident,
    then filler. Lengths are in words, which is about one token each for BPE tokenizers;
    check them with ``nullband prefix`` against the server's /tokenize when exactness matters.
    """
    words: list[str] = []
    if hash_ids is not None:
        ids, block = hash_ids
        for h in ids:
            words.extend(_words(f"block:{h}:{seed}", block))
    elif prefix is not None:
        words.extend(_words(f"prefix:{prefix[0]}:{seed}", prefix[1]))
    words = words[: max(0, prompt_tokens - 1)]
    words.append(f"r{seed}x{idx}")  # the nonce
    words.extend(_words(f"req:{idx}:{seed}", prompt_tokens - len(words)))
    return " ".join(words)


def _plan(rows: list[TraceRow], seed: int, source: str, block_size: int) -> Schedule:
    rows = sorted(rows, key=lambda r: r.t)
    t0 = rows[0].t if rows else 0.0
    out = []
    for i, r in enumerate(rows):
        prefix = (r.prefix.id, r.prefix.tokens) if r.prefix is not None else None
        hids = (r.hash_ids, block_size) if r.hash_ids else None
        out.append(
            PlannedRequest(
                idx=i,
                id=r.id or str(i),
                offset_s=r.t - t0,
                tenant=r.tenant,
                prompt_tokens=r.prompt_tokens,
                output_tokens=r.output_tokens,
                prefix_id=r.prefix.id if r.prefix is not None else None,
                prompt=synth_prompt(i, seed, r.prompt_tokens, prefix, hids),
            )
        )
    return Schedule(source=source, seed=seed, requests=out)


def _mooncake(obj: dict[str, Any], unit_ms: bool) -> dict[str, Any]:
    if "t" not in obj and "timestamp" in obj:
        obj = dict(obj)
        ts = float(obj.pop("timestamp"))
        obj["t"] = ts / 1000.0 if unit_ms else ts
        obj.setdefault("prompt_tokens", obj.pop("input_length", None))
        obj.setdefault("output_tokens", obj.pop("output_length", None))
    elif unit_ms and "t" in obj:
        obj = {**obj, "t": float(obj["t"]) / 1000.0}
    return obj


def read_trace(path: str | Path) -> tuple[TraceHeader, list[TraceRow]]:
    """Read a trace file: optional header line, then one request per line.

    Raises:
        InputError: a line is not JSON or misses a required field (names file and line).
    """
    p = Path(path)
    try:
        lines = p.read_bytes().splitlines()
    except OSError as exc:
        raise InputError(f"cannot read trace: {exc.strerror}", path=p) from None
    header = TraceHeader()
    rows: list[TraceRow] = []
    saw_header = False
    for n, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise InputError(f"not JSON: {exc}", path=p, line=n) from None
        if not isinstance(obj, dict):
            raise InputError("expected a JSON object", path=p, line=n)
        if obj.get("kind") == "header":
            if saw_header or rows:
                raise InputError("the header must be the first line", path=p, line=n)
            header = TraceHeader.model_validate(obj)
            saw_header = True
            continue
        # Mooncake traces have no header and use ms timestamps.
        unit_ms = header.timestamp_unit == "ms" or ("timestamp" in obj and not saw_header)
        try:
            rows.append(TraceRow.model_validate(_mooncake(obj, unit_ms)))
        except ValidationError as exc:
            err = exc.errors()[0]
            field = ".".join(str(x) for x in err["loc"])
            raise InputError(err["msg"], path=p, line=n, field=field) from None
    if not rows:
        raise InputError("the trace has no requests", path=p)
    return header, rows


def schedule_from_trace(path: str | Path, seed: int = 0, time_scale: float = 1.0) -> Schedule:
    """A schedule replaying a trace file (offsets multiplied by ``time_scale``)."""
    header, rows = read_trace(path)
    if time_scale != 1.0:
        rows = [r.model_copy(update={"t": r.t * time_scale}) for r in rows]
    return _plan(rows, seed, f"trace:{Path(path).name}", header.block_size)


def _lengths(spec: int | tuple[int, int], n: int, rng: np.random.Generator) -> list[int]:
    if isinstance(spec, int):
        return [spec] * n
    lo, hi = spec
    return [int(v) for v in rng.integers(lo, hi + 1, size=n)]


def synthetic_rows(spec: SyntheticTraffic, seed: int) -> list[TraceRow]:
    """Arrival offsets from a renewal process (no rescaling: a true Poisson/gamma process)."""
    rng = np.random.default_rng(seed)
    k = 1.0 if spec.arrival == "poisson" else spec.burstiness
    if spec.requests is not None:
        n = spec.requests
        if spec.arrival == "constant":
            gaps = np.full(n, 1.0 / spec.rate)
        else:
            gaps = rng.gamma(shape=k, scale=1.0 / (spec.rate * k), size=n)
        times = np.cumsum(gaps) - gaps[0]
    else:
        assert spec.duration_s is not None
        chunks: list[np.ndarray[Any, np.dtype[np.float64]]] = []
        total = 0.0
        while total <= spec.duration_s:
            m = max(16, int(spec.rate * spec.duration_s * 0.2))
            if spec.arrival == "constant":
                g = np.full(m, 1.0 / spec.rate)
            else:
                g = rng.gamma(shape=k, scale=1.0 / (spec.rate * k), size=m)
            chunks.append(g)
            total += float(g.sum())
        all_t = np.cumsum(np.concatenate(chunks))
        times = all_t[all_t <= spec.duration_s]
        n = int(times.size)
    names = [t.name for t in spec.tenants]
    w = np.array([t.weight for t in spec.tenants], dtype=np.float64)
    tenant_idx = rng.choice(len(names), size=n, p=w / w.sum())
    pts = _lengths(spec.prompt_tokens, n, rng)
    ots = _lengths(spec.output_tokens, n, rng)
    rows = []
    for i in range(n):
        ten = spec.tenants[int(tenant_idx[i])]
        prefix = PrefixRef(id=ten.name, tokens=ten.prefix_tokens) if ten.prefix_tokens else None
        rows.append(
            TraceRow(
                t=float(times[i]),
                tenant=ten.name,
                prompt_tokens=max(pts[i], ten.prefix_tokens + 1),
                output_tokens=ots[i],
                prefix=prefix,
            )
        )
    return rows


def synthetic_schedule(spec: SyntheticTraffic, seed: int = 0) -> Schedule:
    """A seeded synthetic schedule."""
    src = f"synthetic:{spec.arrival}@{spec.rate:g}/s"
    if spec.arrival == "gamma":
        src += f",k={spec.burstiness:g}"
    return _plan(synthetic_rows(spec, seed), seed, src, block_size=512)


def write_trace(path: str | Path, rows: Iterable[TraceRow], source: str | None = None) -> None:
    """Write rows as a trace file with a header line."""
    header = TraceHeader(source=source).model_dump(by_alias=True, exclude_none=True)
    with Path(path).open("wb") as fh:
        fh.write(orjson.dumps(header) + b"\n")
        for r in rows:
            fh.write(orjson.dumps(r.model_dump(exclude_none=True)) + b"\n")
