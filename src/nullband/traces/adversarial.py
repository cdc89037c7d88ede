"""The permanent adversarial set: a suite file that only grows.

Each line holds one case plus a hash chain link (``prev``, ``hash``: SHA-256 of the
previous hash and the case's canonical JSON). A manifest next to the file
(``<file>.manifest.json``) records the count and the head hash. Removing or editing a
line breaks the chain; cutting lines off the end disagrees with the manifest. Both are
refused with an error naming the line. Adding appends and moves the head. (Someone who
rewrites both files on purpose can defeat this; keep them under version control.)
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import orjson
from pydantic import ValidationError

from nullband._canonical import canonical_json
from nullband.errors import InputError, UsageError
from nullband.suite.case import Case

GENESIS = "0" * 64


class AdversarialSetError(InputError):
    """The adversarial set was edited other than by appending."""


def _link(prev: str, case: Case) -> str:
    return hashlib.sha256(prev.encode() + canonical_json(case.model_dump(mode="json"))).hexdigest()


class AdversarialSet:
    """An append-only, hash-chained set of cases at ``path``.

    Example:
        >>> s = AdversarialSet("evals/adversarial.jsonl")  # doctest: +SKIP
        >>> s.add([case])                                  # doctest: +SKIP
        1
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.manifest = self.path.with_name(self.path.name + ".manifest.json")

    def _read(self) -> tuple[list[Case], str]:
        if not self.path.exists():
            if self.manifest.exists():
                raise AdversarialSetError(
                    "the adversarial set file is missing but its manifest exists (removal refused)",
                    path=self.path,
                    hint="restore the file from version control",
                )
            return [], GENESIS
        cases: list[Case] = []
        head = GENESIS
        with self.path.open("rb") as fh:
            for lineno, raw in enumerate(fh, start=1):
                if not raw.strip():
                    continue
                try:
                    row = orjson.loads(raw)
                    case = Case.model_validate(row["case"])
                except (orjson.JSONDecodeError, KeyError, TypeError, ValidationError) as exc:
                    raise AdversarialSetError(
                        f"unreadable entry ({exc})", path=self.path, line=lineno
                    ) from None
                if row.get("prev") != head or row.get("hash") != _link(head, case):
                    raise AdversarialSetError(
                        f"hash chain broken at case {case.id!r}: an earlier case was removed or "
                        "this one was edited (the adversarial set only grows)",
                        path=self.path,
                        line=lineno,
                        hint="restore the removed or edited lines from version control",
                    )
                head = row["hash"]
                cases.append(case)
        if self.manifest.exists():
            man = orjson.loads(self.manifest.read_bytes())
            if man.get("count") != len(cases) or man.get("head") != head:
                raise AdversarialSetError(
                    f"the manifest records {man.get('count')} cases but the file holds "
                    f"{len(cases)}: cases were removed from the end (the adversarial set only grows)",
                    path=self.path,
                    hint="restore the file from version control",
                )
        elif cases:
            raise AdversarialSetError(
                "the manifest is missing",
                path=self.manifest,
                hint="restore it from version control",
            )
        return cases, head

    def load(self) -> list[Case]:
        """The cases, after checking the chain and the manifest.

        Raises:
            AdversarialSetError: a case was removed or edited.
        """
        return self._read()[0]

    def add(self, cases: Iterable[Case]) -> int:
        """Append cases (ids already present with the same content are skipped).

        Returns:
            How many were appended.

        Raises:
            AdversarialSetError: the set was tampered with.
            UsageError: an id already in the set comes with different content.
        """
        existing, head = self._read()
        by_id = {c.id: c for c in existing}
        new: list[Case] = []
        for c in cases:
            c = c.model_copy(update={"adversarial": True})
            old = by_id.get(c.id)
            if old is not None:
                if old.content_hash() != c.content_hash():
                    raise UsageError(
                        f"case {c.id!r} is already in the adversarial set with other content",
                        hint="cases there are permanent; add the new version under a new id",
                    )
                continue
            by_id[c.id] = c
            new.append(c)
        if not new:
            return 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        now = datetime.now(UTC).isoformat()
        with self.path.open("ab") as fh:
            for c in new:
                link = _link(head, c)
                fh.write(
                    orjson.dumps(
                        {
                            "case": c.model_dump(mode="json"),
                            "prev": head,
                            "hash": link,
                            "added_at": now,
                        }
                    )
                    + b"\n"
                )
                head = link
        tmp = self.manifest.with_suffix(".tmp")
        tmp.write_bytes(orjson.dumps({"count": len(existing) + len(new), "head": head}))
        tmp.replace(self.manifest)
        return len(new)

    def remove(self, case_id: str) -> None:
        """Always refused: the adversarial set only grows.

        Raises:
            UsageError: every time.
        """
        raise UsageError(
            f"refusing to remove {case_id!r}: the adversarial set only grows",
            hint="to stop scoring a case, give it weight 0 in the merged suite instead",
        )


def merge(suite: Sequence[Case], adversarial: Sequence[Case], *, weight: float = 3.0) -> list[Case]:
    """The suite plus the adversarial cases (``adversarial=True``, the given weight).

    Raises:
        UsageError: an adversarial case id is also a suite case id.
    """
    ids = {c.id for c in suite}
    out = list(suite)
    for c in adversarial:
        if c.id in ids:
            raise UsageError(
                f"case id {c.id!r} is in both the suite and the adversarial set",
                hint="rename one of them",
            )
        out.append(c.model_copy(update={"adversarial": True, "weight": weight}))
    return out
