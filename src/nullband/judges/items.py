"""Audit items and human labels: reading them from files, with errors naming file and line.

An audit item (one JSON line) holds what the judge is shown and, optionally, the human
label::

    {"id": "q1", "prompt": "What is 2+2?", "candidate": "4", "reference": "5",
     "human": "candidate"}
    {"id": "q2", "prompt": "Summarise ...", "answer": "...", "human": 4}

Pairwise items need ``candidate`` and ``reference``; rubric items need ``answer`` (and may
give ``reference``). Human labels are ``candidate``, ``reference`` or ``tie`` (pairwise)
or a grade on the scale (rubric). They can also come from a separate file: JSON lines
``{"id": ..., "label": ...}`` or a CSV with ``id`` and ``label`` columns.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from nullband.errors import InputError
from nullband.judges.pairwise import Outcome
from nullband.judges.prompts import render_question

HumanLabel = Outcome | float


class AuditItem(BaseModel):
    """One item to audit a judge on."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, description="Unique id of the item.")
    prompt: str | None = Field(default=None, description="The question, as plain text.")
    input: list[dict[str, Any]] | None = Field(
        default=None, description="The question as chat messages."
    )
    answer: str | None = Field(default=None, description="Rubric: the answer to grade.")
    candidate: str | None = Field(default=None, description="Pairwise: the candidate's answer.")
    reference: str | None = Field(
        default=None, description="Pairwise: the reference answer; rubric: an optional gold."
    )
    human: str | float | None = Field(default=None, description="The human label, if any.")
    metadata: dict[str, Any] = Field(default_factory=dict, description="Carried along.")

    @model_validator(mode="after")
    def _one_question(self) -> AuditItem:
        if (self.prompt is None) == (self.input is None):
            raise ValueError("give exactly one of 'prompt' (a string) or 'input' (chat messages)")
        return self

    def question(self) -> str:
        """The question as the judge sees it."""
        if self.prompt is not None:
            return self.prompt
        assert self.input is not None
        return render_question(self.input)


def load_items(path: str | Path, mode: Literal["pairwise", "rubric"]) -> list[AuditItem]:
    """Read audit items from a JSONL file.

    Raises:
        InputError: naming the file, line and field of the first problem.
    """
    p = Path(path)
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise InputError(f"cannot read audit items: {exc.strerror}", path=p) from None
    items: list[AuditItem] = []
    seen: set[str] = set()
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            item = AuditItem.model_validate(json.loads(line))
        except json.JSONDecodeError as exc:
            raise InputError(f"not valid JSON: {exc.msg}", path=p, line=n) from None
        except ValidationError as exc:
            err = exc.errors()[0]
            field = ".".join(str(x) for x in err["loc"]) or None
            raise InputError(err["msg"], path=p, line=n, field=field) from None
        if item.id in seen:
            raise InputError(f"duplicate item id {item.id!r}", path=p, line=n, field="id")
        seen.add(item.id)
        need = ("candidate", "reference") if mode == "pairwise" else ("answer",)
        for name in need:
            if getattr(item, name) is None:
                raise InputError(f"a {mode} audit item needs {name!r}", path=p, line=n, field=name)
        items.append(item)
    if not items:
        raise InputError("the audit items file has no items", path=p)
    return items


def parse_label(
    raw: Any, mode: Literal["pairwise", "rubric"], *, path: Path | str, line: int | None
) -> HumanLabel:
    """Check one human label.

    Raises:
        InputError: the label is not a pairwise outcome or not a number.
    """
    if mode == "pairwise":
        s = str(raw).strip().lower()
        if s in ("candidate", "reference", "tie"):
            return s  # type: ignore[return-value]
        raise InputError(
            f"pairwise human label {raw!r} must be 'candidate', 'reference' or 'tie'",
            path=path,
            line=line,
            field="human",
            hint="labels name the answer, not its position, since the judge sees both orders",
        )
    try:
        return float(raw)
    except (TypeError, ValueError):
        raise InputError(
            f"rubric human label {raw!r} is not a number", path=path, line=line, field="human"
        ) from None


def load_human_labels(
    path: str | Path, mode: Literal["pairwise", "rubric"]
) -> dict[str, HumanLabel]:
    """Read human labels from JSONL (``{"id", "label"}``) or CSV (``id,label`` header).

    Raises:
        InputError: unreadable file, missing columns, a bad label or a repeated id.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read human labels: {exc.strerror}", path=p) from None
    rows: list[tuple[int, Any, Any]] = []
    if p.suffix.lower() == ".csv":
        reader = csv.DictReader(text.splitlines())
        if reader.fieldnames is None or not {"id", "label"} <= set(reader.fieldnames):
            raise InputError("a CSV of human labels needs 'id' and 'label' columns", path=p, line=1)
        rows = [(i + 2, r["id"], r["label"]) for i, r in enumerate(reader)]
    else:
        for n, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"not valid JSON: {exc.msg}", path=p, line=n) from None
            if not isinstance(obj, dict) or "id" not in obj or "label" not in obj:
                raise InputError("each line needs 'id' and 'label'", path=p, line=n)
            rows.append((n, obj["id"], obj["label"]))
    labels: dict[str, HumanLabel] = {}
    for n, item_id, raw in rows:
        key = str(item_id)
        if key in labels:
            raise InputError(f"duplicate label for item {key!r}", path=p, line=n, field="id")
        labels[key] = parse_label(raw, mode, path=p, line=n)
    return labels
