"""PII scrubbing with consistent placeholders, and the type that proves a trace was scrubbed.

A :class:`ScrubSession` replaces every entity it finds with ``<TYPE_n>``: the same value
always gets the same placeholder within the session (so a replayed conversation stays
coherent), and two different values never share one. Everything that embeds traces,
writes them into a suite or a dataset, or sends them to a model takes a
:class:`ScrubbedTrace`, which only a session can make: scrubbing first is enforced by
the API, not by convention.
"""

from __future__ import annotations

import re
import secrets
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import orjson
from pydantic import BaseModel, Field

from nullband.errors import UsageError
from nullband.traces.recognizers import BUILTIN, Recognizer, find_iban
from nullband.traces.schema import Trace

Finder = Callable[[str], list[tuple[int, int, str]]]
"""An extra recogniser: text -> [(start, end, TYPE)] (e.g. Presidio)."""

_KEEP_KEYS = frozenset(
    {
        "schema_version",
        "trace_id",
        "step_id",
        "parent_id",
        "kind",
        "task_class",
        "started_at",
        "duration_ms",
        "ttft_ms",
        "status",
        "error_type",
        "provider_requested",
        "provider_served",
        "model_requested",
        "model_routed",
        "model_served",
        "system_fingerprint",
        "fallback_index",
        "retry_count",
        "cache_hit",
        "cache_kind",
        "usage",
        "cost_usd",
        "tool_name",
        "tool_call_id",
        "source",
        "source_ref",
        "role",
        "type",
        "id",
        "tool_calls_id",
    }
)  # structural fields: ids, names and numbers the replay needs verbatim
_KEEP_TREES = frozenset({"tool_definitions"})  # developer-written tool schemas, kept whole
_PLACEHOLDER = re.compile(r"<([A-Z][A-Z_]*)_(\d+)>")
_TOKEN = object()


class ScrubReport(BaseModel):
    """What a session scrubbed, by type (counts only; never the values)."""

    engine: str = Field(description="'builtin' or 'builtin+presidio'.")
    texts: int = Field(description="Strings examined.")
    replaced: dict[str, int] = Field(description="Occurrences replaced, per type.")
    distinct: dict[str, int] = Field(description="Distinct values replaced, per type.")


class ScrubbedTrace:
    """A trace whose text went through a :class:`ScrubSession` (made only by a session)."""

    __slots__ = ("session_id", "trace")

    def __init__(self, trace: Trace, session_id: str, token: object) -> None:
        if token is not _TOKEN:
            raise UsageError(
                "a ScrubbedTrace can only be made by ScrubSession.scrub_trace",
                hint="scrub traces before embedding, writing or sending them",
            )
        self.trace = trace
        self.session_id = session_id


def require_scrubbed(items: Iterable[Any], what: str) -> list[ScrubbedTrace]:
    """``items`` as a list, raising if any is not a :class:`ScrubbedTrace`.

    Raises:
        UsageError: a raw trace reached a stage that embeds, writes or sends text.
    """
    out = list(items)
    for it in out:
        if not isinstance(it, ScrubbedTrace):
            raise UsageError(
                f"{what} needs scrubbed traces, got {type(it).__name__}",
                hint="pass the traces through ScrubSession.scrub_trace first",
            )
    return out


class ScrubSession:
    """One scrubbing session: the placeholder map lives as long as the session.

    Args:
        recognizers: the built-in recognisers to use (default: all).
        extra: further finders (see :func:`presidio_finder`).

    Example:
        >>> s = ScrubSession()
        >>> s.scrub_text("mail ann@example.com or ann@example.com")
        'mail <EMAIL_1> or <EMAIL_1>'
    """

    def __init__(
        self,
        recognizers: Iterable[Recognizer] = BUILTIN,
        extra: Iterable[Finder] = (),
    ) -> None:
        self.recognizers = tuple(recognizers)
        self.extra = tuple(extra)
        self.session_id = secrets.token_hex(8)
        self._map: dict[tuple[str, str], str] = {}
        self._next: Counter[str] = Counter()
        self._reserved: set[str] = set()
        self._replaced: Counter[str] = Counter()
        self._texts = 0
        # raw spellings already identified -> (type, placeholder): a secret seen once in
        # context ("Bearer <token>") is also replaced where it later appears bare
        self._raw: dict[str, tuple[str, str]] = {}
        self._raw_rx: re.Pattern[str] | None = None
        self._pending: list[str] = []  # learned since the regex was last compiled

    def _placeholder(self, etype: str, norm: str) -> str:
        key = (etype, norm)
        ph = self._map.get(key)
        if ph is None:
            while True:
                self._next[etype] += 1
                ph = f"<{etype}_{self._next[etype]}>"
                if ph not in self._reserved:
                    break
            self._map[key] = ph
        return ph

    def find(self, text: str) -> list[tuple[int, int, str, str]]:
        """Non-overlapping entities in ``text``: (start, end, TYPE, normalised value)."""
        found: list[tuple[int, int, int, str, str]] = []
        for r in self.recognizers:
            for m in r.pattern.finditer(text):
                if r.type == "IBAN":
                    span = find_iban(text, m)
                    if span is None:
                        continue
                    a, b = span
                else:
                    a, b = m.span(r.group)
                value = text[a:b]
                if r.check is not None and not r.check(value):
                    continue
                found.append((a, b, r.priority, r.type, r.normalize(value)))
        for finder in self.extra:
            for a, b, etype in finder(text):
                found.append((a, b, 5, etype, text[a:b]))
        found.sort(key=lambda f: (-f[2], -(f[1] - f[0]), f[0]))
        taken: list[tuple[int, int, str, str]] = []
        for a, b, _, etype, norm in found:
            if all(b <= ta or a >= tb for ta, tb, _, _ in taken):
                taken.append((a, b, etype, norm))
        return sorted(taken)

    def _learn(self, text: str) -> list[tuple[int, int, str, str]]:
        """Find entities in ``text`` and remember their placeholders and raw spellings."""
        for m in _PLACEHOLDER.finditer(text):
            self._reserved.add(m.group(0))  # never hand out a placeholder the text already has
        spans = []
        for a, b, etype, norm in self.find(text):
            ph = self._placeholder(etype, norm)
            raw = text[a:b]
            if len(raw) >= 6 and raw not in self._raw:
                self._raw[raw] = (etype, ph)
                self._pending.append(raw)
            spans.append((a, b, etype, ph))
        return spans

    def _known(self, text: str) -> str:
        if not self._raw:
            return text
        # recompiling the alternation for every new value would be quadratic: values
        # learned since the last compile are checked with plain substring tests, and the
        # regex is rebuilt once they are a sizeable share of it
        if len(self._pending) > max(32, len(self._raw) // 4):
            alts = sorted(self._raw, key=len, reverse=True)
            self._raw_rx = re.compile("|".join(re.escape(a) for a in alts))
            self._pending = []
        for raw in sorted(self._pending, key=len, reverse=True):
            if raw in text:
                etype, ph = self._raw[raw]
                self._replaced[etype] += text.count(raw)
                text = text.replace(raw, ph)
        if self._raw_rx is None:
            return text

        def repl(m: re.Match[str]) -> str:
            etype, ph = self._raw[m.group(0)]
            self._replaced[etype] += 1
            return ph

        return self._raw_rx.sub(repl, text)

    def scrub_text(self, text: str) -> str:
        """``text`` with every entity replaced by its placeholder.

        Values identified earlier in the session are replaced wherever they appear, even
        without the context that identified them.
        """
        self._texts += 1
        spans = self._learn(text)
        parts: list[str] = []
        pos = 0
        for a, b, etype, ph in spans:
            parts.append(self._known(text[pos:a]))
            parts.append(ph)
            self._replaced[etype] += 1
            pos = b
        parts.append(self._known(text[pos:]))
        return "".join(parts)

    def scrub_value(self, value: Any, key: str | None = None) -> Any:
        """Scrub every string inside ``value`` (dict keys and structural fields kept)."""
        if key in _KEEP_TREES:
            return value
        if isinstance(value, str):
            return value if key in _KEEP_KEYS else self.scrub_text(value)
        if isinstance(value, dict):
            return {k: self.scrub_value(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [self.scrub_value(v, key) for v in value]
        return value

    def _walk(self, value: Any, key: str | None = None) -> None:
        if key in _KEEP_TREES:
            return
        if isinstance(value, str):
            if key not in _KEEP_KEYS:
                self._learn(value)
        elif isinstance(value, dict):
            for k, v in value.items():
                self._walk(v, k)
        elif isinstance(value, list):
            for v in value:
                self._walk(v, key)

    def scrub_trace(self, trace: Trace) -> ScrubbedTrace:
        """A scrubbed copy of ``trace`` (messages, arguments, results, errors, attributes)."""
        dumped = trace.model_dump(mode="json")
        self._walk(dumped)  # first pass: learn every entity of the trace, in any field
        data = self.scrub_value(dumped)
        return ScrubbedTrace(Trace.model_validate(data), self.session_id, _TOKEN)

    def report(self) -> ScrubReport:
        """Counts by type so far."""
        distinct: Counter[str] = Counter(etype for etype, _ in self._map)
        return ScrubReport(
            engine="builtin+presidio" if self.extra else "builtin",
            texts=self._texts,
            replaced=dict(sorted(self._replaced.items())),
            distinct=dict(sorted(distinct.items())),
        )

    def save_map(self, path: str | Path) -> None:
        """Write the reversible placeholder map (sensitive: keep it apart from the data)."""
        rows = [{"type": t, "value": v, "placeholder": p} for (t, v), p in self._map.items()]
        Path(path).write_bytes(orjson.dumps(rows))


def presidio_finder(entities: list[str] | None = None) -> Finder:
    """A finder backed by Presidio's analyzer, fully offline (blank spaCy pipeline).

    Raises:
        UsageError: Presidio is not installed (install the ``pii`` extra).
    """
    try:
        import tempfile

        import spacy  # type: ignore[import-not-found,unused-ignore]
        import tldextract.tldextract as tld  # type: ignore[import-not-found,unused-ignore]
        from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
        from presidio_analyzer.nlp_engine import SlimSpacyNlpEngine
    except ImportError as exc:
        raise UsageError(
            f"Presidio is not installed ({exc.name})",
            hint="install the extra: pip install 'nullband[pii]'",
        ) from None
    tld.TLD_EXTRACTOR.suffix_list_urls = ()  # never fetch the public-suffix list
    model_dir = tempfile.mkdtemp(prefix="nullband-spacy-")
    spacy.blank("en").to_disk(model_dir)
    nlp = SlimSpacyNlpEngine(
        models=[{"lang_code": "en", "model_name": model_dir}], auto_download=False
    )
    nlp.load()
    registry = RecognizerRegistry(supported_languages=["en"])
    registry.load_predefined_recognizers(languages=["en"], nlp_engine=nlp)
    for rec in list(registry.recognizers):
        if type(rec).__name__ in ("SpacyRecognizer", "GLiNERRecognizer"):
            registry.remove_recognizer(rec.name)
    analyzer = AnalyzerEngine(nlp_engine=nlp, registry=registry, supported_languages=["en"])

    def find(text: str) -> list[tuple[int, int, str]]:
        results = analyzer.analyze(text=text, language="en", entities=entities)
        return [(r.start, r.end, str(r.entity_type)) for r in results if r.score >= 0.5]

    return find
