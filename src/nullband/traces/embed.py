"""Embeddings of scrubbed traces: offline TF-IDF + SVD by default, or any OpenAI-compatible
``/v1/embeddings`` endpoint.

What gets embedded is the *task*, not the whole trace: the system prompt, the first user
turn and the names of the tools offered (see :func:`task_text`).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from typing import Any

import aiohttp
import numpy as np
from numpy.typing import NDArray

from nullband.errors import TargetError, UsageError
from nullband.traces.scrub import ScrubbedTrace, require_scrubbed

Matrix = NDArray[np.float64]


def task_text(st: ScrubbedTrace) -> str:
    """The canonical text of a trace's task: system prompt, first user turn, tool names."""
    system = user = ""
    tools: list[str] = []
    for step in st.trace.steps:
        for m in step.input_messages:
            content = m.get("content")
            if not isinstance(content, str):
                continue
            if m.get("role") == "system" and not system:
                system = content
            elif m.get("role") == "user" and not user:
                user = content
        for t in step.tool_definitions:
            name = (t.get("function") or {}).get("name") if isinstance(t, dict) else None
            if name and name not in tools:
                tools.append(str(name))
        if step.kind == "tool" and step.tool_name and step.tool_name not in tools:
            tools.append(step.tool_name)
    return "\n".join(x for x in (system, user, " ".join(tools)) if x)


def _normalize(x: Matrix) -> Matrix:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    out: Matrix = x / norms
    return out


class TfidfEmbedder:
    """TF-IDF (1-2 grams) -> TruncatedSVD -> L2 normalised; deterministic for a seed.

    Fit on the traces; suite cases are then projected into the same space.
    """

    def __init__(self, n_components: int = 64, seed: int = 0) -> None:
        self.n_components = n_components
        self.seed = seed
        self._vec: Any = None
        self._svd: Any = None

    def fit_transform(self, texts: Sequence[str]) -> Matrix:
        """Fit on ``texts`` and return their embeddings."""
        from sklearn.decomposition import TruncatedSVD
        from sklearn.feature_extraction.text import TfidfVectorizer

        self._vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, stop_words="english")
        try:
            tf = self._vec.fit_transform(texts)
        except ValueError:  # no words at all (e.g. logs stored without content)
            self._vec = None
            return np.zeros((len(texts), 1))
        k = max(1, min(self.n_components, tf.shape[1] - 1, len(texts) - 1))
        self._svd = TruncatedSVD(n_components=k, random_state=self.seed)
        return _normalize(np.asarray(self._svd.fit_transform(tf), dtype=np.float64))

    def transform(self, texts: Sequence[str]) -> Matrix:
        """Embed more texts in the fitted space (zeros when the fit found no words)."""
        if self._vec is None:
            return np.zeros((len(texts), 1))
        return _normalize(
            np.asarray(self._svd.transform(self._vec.transform(texts)), dtype=np.float64)
        )

    def top_terms(self, texts: Sequence[str], k: int = 3) -> list[str]:
        """The ``k`` highest-weight terms over ``texts`` (to name a cluster)."""
        if self._vec is None:
            return []
        tf = self._vec.transform(texts)
        weights = np.asarray(tf.mean(axis=0)).ravel()
        names = self._vec.get_feature_names_out()
        return [str(names[i]) for i in np.argsort(-weights)[:k] if weights[i] > 0]


async def embed_http(
    texts: Sequence[str],
    *,
    base_url: str,
    model: str,
    api_key_env: str | None = None,
    batch_size: int = 64,
    concurrency: int = 4,
    timeout_s: float = 60.0,
) -> Matrix:
    """Embeddings from an OpenAI-compatible endpoint (``POST {base_url}/embeddings``).

    Raises:
        TargetError: the endpoint failed or returned a malformed body.
    """
    headers = {"Content-Type": "application/json"}
    if api_key_env:
        key = os.environ.get(api_key_env)
        if not key:
            raise UsageError(f"environment variable {api_key_env} is not set")
        headers["Authorization"] = f"Bearer {key}"
    url = base_url.rstrip("/") + "/embeddings"
    batches = [list(texts[i : i + batch_size]) for i in range(0, len(texts), batch_size)]
    results: list[list[list[float]]] = [[] for _ in batches]
    sem = asyncio.Semaphore(concurrency)
    timeout = aiohttp.ClientTimeout(total=timeout_s)

    async def one(session: aiohttp.ClientSession, i: int) -> None:
        async with sem, session.post(url, json={"model": model, "input": batches[i]}) as resp:
            if resp.status != 200:
                body = (await resp.text())[:200]
                raise TargetError(f"embeddings endpoint {url} answered {resp.status}: {body}")
            try:
                data = (await resp.json())["data"]
                rows = sorted(data, key=lambda d: d["index"])
                results[i] = [list(map(float, r["embedding"])) for r in rows]
            except (KeyError, TypeError, ValueError, aiohttp.ContentTypeError) as exc:
                raise TargetError(f"malformed embeddings response from {url}: {exc}") from None
            if len(results[i]) != len(batches[i]):
                raise TargetError(
                    f"{url} returned {len(results[i])} embeddings for {len(batches[i])} inputs"
                )

    try:
        async with (
            aiohttp.ClientSession(headers=headers, timeout=timeout) as session,
            asyncio.TaskGroup() as tg,
        ):
            for i in range(len(batches)):
                tg.create_task(one(session, i))
    except* (aiohttp.ClientError, TimeoutError) as eg:
        raise TargetError(f"embeddings endpoint {url} failed: {eg.exceptions[0]!r}") from None
    except* TargetError as eg:
        raise eg.exceptions[0] from None
    flat = [row for batch in results for row in batch]
    return _normalize(np.asarray(flat, dtype=np.float64))


def embed_traces_http(traces: Sequence[ScrubbedTrace], **kw: Any) -> Matrix:
    """Sync wrapper: task texts of scrubbed traces embedded by an HTTP endpoint."""
    items = require_scrubbed(traces, "embedding")
    return asyncio.run(embed_http([task_text(t) for t in items], **kw))
