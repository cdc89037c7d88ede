"""Cluster scrubbed traces (HDBSCAN) and draw a stratified, seeded sample.

Allocation: each cluster (noise is a stratum of its own) gets a share of ``n``
proportional to its size, but at least ``floor_per_cluster`` (or its whole size if
smaller); largest remainders settle rounding. Then every segment value (e.g. each
customer) is topped up to ``floor_per_segment`` from its unsampled traces, so floors can
push the total above ``n`` (reported).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field

from nullband.errors import UsageError
from nullband.traces.embed import Matrix, TfidfEmbedder, task_text
from nullband.traces.scrub import ScrubbedTrace, require_scrubbed

SAMPLE_SCHEMA_VERSION = 1


def cluster(x: Matrix, *, min_cluster_size: int = 5, min_samples: int | None = None) -> list[int]:
    """HDBSCAN labels (-1 = noise) of the rows of ``x``."""
    from sklearn.cluster import HDBSCAN

    if len(x) < 2:
        return [-1] * len(x)
    model = HDBSCAN(
        min_cluster_size=max(2, min(min_cluster_size, len(x))),
        min_samples=min_samples,
        copy=True,
    )
    return [int(v) for v in model.fit_predict(x)]


class ClusterInfo(BaseModel):
    """One stratum of the sample."""

    cluster: int = Field(description="HDBSCAN label; -1 is noise.")
    size: int = Field(description="Traces in the cluster.")
    sampled: int = Field(description="Traces drawn from it.")
    name: str = Field(description="Majority label, or the top terms of its texts.")


class SampleResult(BaseModel):
    """A stratified sample of traces (write it next to the suite it feeds)."""

    schema_version: int = Field(default=SAMPLE_SCHEMA_VERSION, description="Schema version.")
    seed: int = Field(description="Seed of the draw.")
    n_requested: int = Field(description="Sample size asked for.")
    n_selected: int = Field(description="Sample size drawn (floors may add traces).")
    embedding: str = Field(description="How traces were embedded.")
    trace_ids: list[str] = Field(description="Selected traces, in input order.")
    clusters: list[ClusterInfo] = Field(description="Per-cluster sizes and draws.")
    segments: dict[str, dict[str, int]] = Field(
        description="Per segment key and value: traces drawn."
    )
    state: Literal["ok", "not_enough_data"] = Field(
        description="'not_enough_data' when there were fewer traces than requested."
    )
    labels: list[int] = Field(description="Cluster label of every input trace, in input order.")


def allocate(sizes: dict[int, int], n: int, floor: int) -> dict[int, int]:
    """Per-stratum draws: proportional to size, at least ``floor`` (capped by size)."""
    total = sum(sizes.values())
    if total == 0:
        return {}
    n = min(n, total)
    raw = {c: n * s / total for c, s in sizes.items()}
    alloc = {c: min(s, max(floor, int(raw[c]))) for c, s in sizes.items()}
    spare = n - sum(alloc.values())
    order = sorted(sizes, key=lambda c: (-(raw[c] - int(raw[c])), -sizes[c], c))
    while spare > 0 and any(alloc[c] < sizes[c] for c in sizes):
        for c in order:
            if spare > 0 and alloc[c] < sizes[c]:
                alloc[c] += 1
                spare -= 1
    return alloc


def stratified_sample(
    traces: Sequence[ScrubbedTrace],
    n: int,
    *,
    seed: int = 0,
    floor_per_cluster: int = 1,
    floor_per_segment: int = 0,
    segment_keys: Sequence[str] = (),
    embeddings: Matrix | None = None,
    min_cluster_size: int = 5,
    label_key: str | None = None,
) -> SampleResult:
    """Cluster the traces and draw ``n`` of them, stratified by cluster, with floors.

    Args:
        traces: scrubbed traces (raw traces are refused).
        n: sample size.
        seed: the seed (stored in the result).
        floor_per_cluster: fewest traces drawn from each cluster.
        floor_per_segment: fewest traces drawn for each value of each key in ``segment_keys``.
        embeddings: precomputed embeddings (e.g. from :func:`embed_traces_http`); default
            is offline TF-IDF + SVD.
        label_key: a segment key whose majority value names each cluster.
    """
    items = require_scrubbed(traces, "sampling")
    if n < 1:
        raise UsageError(f"sample size must be at least 1, got {n}")
    texts = [task_text(t) for t in items]
    embedder: TfidfEmbedder | None = None
    if embeddings is None:
        embedder = TfidfEmbedder(seed=seed)
        x = embedder.fit_transform(texts) if items else np.zeros((0, 1))
        how = f"tfidf-svd(k={embedder.n_components}, seed={seed})"
    else:
        x, how = embeddings, "precomputed"
    labels = cluster(x, min_cluster_size=min_cluster_size)
    rng = np.random.default_rng(seed)
    members: dict[int, list[int]] = {}
    for i, c in enumerate(labels):
        members.setdefault(c, []).append(i)
    alloc = allocate({c: len(v) for c, v in members.items()}, n, floor_per_cluster)
    chosen: set[int] = set()
    for c in sorted(members):
        pick = rng.choice(members[c], size=alloc.get(c, 0), replace=False)
        chosen.update(int(i) for i in pick)
    for key in segment_keys:
        by_value: dict[str, list[int]] = {}
        for i, t in enumerate(items):
            by_value.setdefault(t.trace.segments.get(key, "-"), []).append(i)
        for value in sorted(by_value):
            have = [i for i in by_value[value] if i in chosen]
            rest = [i for i in by_value[value] if i not in chosen]
            need = min(len(rest), floor_per_segment - len(have))
            if need > 0:
                chosen.update(int(i) for i in rng.choice(rest, size=need, replace=False))
    selected = sorted(chosen)
    infos = [
        ClusterInfo(
            cluster=c,
            size=len(v),
            sampled=sum(1 for i in v if i in chosen),
            name=cluster_name([items[i] for i in v], label_key, embedder, [texts[i] for i in v]),
        )
        for c, v in sorted(members.items())
    ]
    seg_counts = {
        key: dict(sorted(Counter(items[i].trace.segments.get(key, "-") for i in selected).items()))
        for key in segment_keys
    }
    return SampleResult(
        seed=seed,
        n_requested=n,
        n_selected=len(selected),
        embedding=how,
        trace_ids=[items[i].trace.trace_id for i in selected],
        clusters=infos,
        segments=seg_counts,
        state="ok" if len(items) >= n else "not_enough_data",
        labels=labels,
    )


def cluster_name(
    members: Sequence[ScrubbedTrace],
    label_key: str | None,
    embedder: TfidfEmbedder | None,
    texts: Sequence[str],
) -> str:
    """The majority ``label_key`` value of a cluster, else its top TF-IDF terms."""
    if label_key:
        values = Counter(m.trace.segments.get(label_key) for m in members)
        values.pop(None, None)
        if values:
            return str(values.most_common(1)[0][0])
    if embedder is not None and texts:
        return ", ".join(embedder.top_terms(texts)) or "-"
    return "-"
