"""Coverage: which clusters of production traffic an existing suite covers, and which it misses.

Traces are embedded and clustered; each suite case is embedded in the same space and
assigned to the cluster most of its ``k`` nearest traces belong to, when its nearest
trace is at least ``min_similarity`` (cosine) away; otherwise it covers nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field

from nullband.suite.case import Case
from nullband.traces.embed import Matrix, TfidfEmbedder, task_text
from nullband.traces.sample import cluster, cluster_name
from nullband.traces.scrub import ScrubbedTrace, require_scrubbed

COVERAGE_SCHEMA_VERSION = 1


def case_text(case: Case) -> str:
    """A case's task text, built like :func:`task_text` (system, first user turn, tools)."""
    system = user = ""
    for m in case.messages():
        content = m.get("content")
        if not isinstance(content, str):
            continue
        if m.get("role") == "system" and not system:
            system = content
        elif m.get("role") == "user" and not user:
            user = content
    tools = [
        str((t.get("function") or {}).get("name"))
        for t in case.tools or []
        if isinstance(t, dict) and (t.get("function") or {}).get("name")
    ]
    return "\n".join(x for x in (system, user, " ".join(tools)) if x)


class ClusterCoverage(BaseModel):
    """One cluster of traffic and the suite cases that land in it."""

    cluster: int = Field(description="HDBSCAN label (-1: traces in no cluster).")
    name: str = Field(description="Majority label, or the top terms of its texts.")
    traces: int = Field(description="Traces in the cluster.")
    share: float = Field(description="Share of all traces.")
    cases: int = Field(description="Suite cases assigned to it.")
    covered: bool = Field(description="At least one case lands in it.")
    example: str = Field(description="A scrubbed task text from the cluster (first 160 chars).")


class NameCoverage(BaseModel):
    """Clusters grouped by name (e.g. one intent split over several clusters)."""

    name: str = Field(description="The cluster name.")
    clusters: int = Field(description="Clusters with this name.")
    traces: int = Field(description="Traces in them.")
    share: float = Field(description="Share of all traces.")
    cases: int = Field(description="Suite cases assigned to them.")
    covered: bool = Field(description="At least one case lands in one of them.")


class CoverageReport(BaseModel):
    """Which clusters a suite covers and misses."""

    schema_version: int = Field(default=COVERAGE_SCHEMA_VERSION, description="Schema version.")
    n_traces: int = Field(description="Traces clustered.")
    n_cases: int = Field(description="Suite cases assigned.")
    clusters: list[ClusterCoverage] = Field(description="Real clusters, largest first.")
    names: list[NameCoverage] = Field(description="Coverage per cluster name, largest first.")
    noise: int = Field(description="Traces HDBSCAN put in no cluster.")
    unassigned_cases: list[str] = Field(description="Case ids close to no traffic at all.")
    covered_share: float | None = Field(
        description="Share of clustered traffic in covered clusters (null: no clusters)."
    )
    state: Literal["ok", "no_clusters"] = Field(
        description="'no_clusters' when HDBSCAN found none."
    )
    seed: int = Field(description="Seed of the embedding.")

    @property
    def missed(self) -> list[str]:
        """Names (e.g. intents) none of whose clusters a case covers, largest first."""
        return [n.name for n in self.names if not n.covered]


def coverage(
    traces: Sequence[ScrubbedTrace],
    cases: Sequence[Case],
    *,
    min_cluster_size: int = 5,
    k: int = 5,
    min_similarity: float = 0.3,
    label_key: str | None = None,
    seed: int = 0,
    embeddings: tuple[Matrix, Matrix] | None = None,
) -> CoverageReport:
    """Cluster the traces and report which clusters the suite ``cases`` cover.

    Args:
        embeddings: precomputed (trace, case) embeddings; default: offline TF-IDF + SVD
            fitted on the traces.
    """
    items = require_scrubbed(traces, "coverage")
    texts = [task_text(t) for t in items]
    embedder: TfidfEmbedder | None = None
    if embeddings is None:
        embedder = TfidfEmbedder(seed=seed)
        x = embedder.fit_transform(texts)
        y = (
            embedder.transform([case_text(c) for c in cases])
            if cases
            else np.zeros((0, x.shape[1]))
        )
    else:
        x, y = embeddings
    labels = np.asarray(cluster(x, min_cluster_size=min_cluster_size))
    counts: Counter[int] = Counter()
    unassigned: list[str] = []
    if len(y) and len(x):
        sims = y @ x.T
        for ci, case in enumerate(cases):
            order = np.argsort(-sims[ci])[:k]
            if sims[ci, order[0]] < min_similarity:
                unassigned.append(case.id)
                continue
            votes = Counter(int(labels[j]) for j in order if labels[j] >= 0)
            if votes:
                counts[votes.most_common(1)[0][0]] += 1
            else:
                unassigned.append(case.id)
    n = len(items)
    rows = []
    for c in sorted(set(labels.tolist()) - {-1}):
        idx = [i for i in range(n) if labels[i] == c]
        rows.append(
            ClusterCoverage(
                cluster=c,
                name=cluster_name(
                    [items[i] for i in idx], label_key, embedder, [texts[i] for i in idx]
                ),
                traces=len(idx),
                share=len(idx) / n,
                cases=counts.get(c, 0),
                covered=counts.get(c, 0) > 0,
                example=texts[idx[0]][:160],
            )
        )
    rows.sort(key=lambda r: (-r.traces, r.cluster))
    clustered = sum(r.traces for r in rows)
    by_name: dict[str, list[ClusterCoverage]] = {}
    for r in rows:
        by_name.setdefault(r.name, []).append(r)
    names = sorted(
        (
            NameCoverage(
                name=name,
                clusters=len(group),
                traces=sum(g.traces for g in group),
                share=sum(g.traces for g in group) / n,
                cases=sum(g.cases for g in group),
                covered=any(g.covered for g in group),
            )
            for name, group in by_name.items()
        ),
        key=lambda v: (-v.traces, v.name),
    )
    return CoverageReport(
        n_traces=n,
        n_cases=len(cases),
        clusters=rows,
        names=names,
        noise=int((labels == -1).sum()),
        unassigned_cases=unassigned,
        covered_share=sum(r.traces for r in rows if r.covered) / clustered if clustered else None,
        state="ok" if rows else "no_clusters",
        seed=seed,
    )
