"""What a run will do: its cases, its (case, target, epoch) keys, its shard and identity.

Loading resolves suite paths relative to the config file, applies suite weights, and
refuses case ids that repeat across suites (a record is keyed by case id). The run's
identity hash covers what changes results (cases, models, params, scorers, epochs) but
not what only changes how the run goes (base URLs, concurrency, budgets), so a run can
be resumed with a higher budget or a restarted server.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from nullband._canonical import content_hash
from nullband.config.models import EvalConfig
from nullband.config.yamlfile import _line_of
from nullband.errors import ConfigError, SuiteError, UsageError
from nullband.store.base import RecordKey
from nullband.suite.case import Case
from nullband.suite.loader import iter_cases

_SECRETISH = re.compile(r"auth|key|token|secret|cookie|password", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Shard:
    """Shard ``index`` (0-based) of ``count``: keys whose hash mod count is index."""

    index: int
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        """Parse ``i/n`` (1-based ``i``, as on the command line: ``--shard 1/4``).

        Raises:
            UsageError: not of the form i/n with 1 <= i <= n.
        """
        m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
        if not m or not 1 <= int(m.group(1)) <= int(m.group(2)):
            raise UsageError(
                f"--shard {text!r} is not of the form i/n with 1 <= i <= n",
                hint="e.g. --shard 1/4 ... --shard 4/4 in four processes",
            )
        return cls(int(m.group(1)) - 1, int(m.group(2)))

    def __str__(self) -> str:
        return f"{self.index + 1}/{self.count}"

    def owns(self, key: RecordKey) -> bool:
        """Whether this shard runs ``key`` (the same answer in every process)."""
        if self.count == 1:
            return True
        raw = f"{key[0]}\x1f{key[1]}\x1f{key[2]}".encode()
        h = int.from_bytes(hashlib.blake2b(raw, digest_size=8).digest(), "big")
        return h % self.count == self.index


@dataclass(slots=True)
class Plan:
    """A loaded config with its cases."""

    config: EvalConfig
    config_path: Path
    cases: list[Case]
    case_hashes: list[str]

    def keys(self, shard: Shard | None = None) -> Iterator[tuple[int, str, int]]:
        """(case index, target, epoch) of every key (of one shard), epochs outermost."""
        for epoch in range(self.config.epochs):
            for i, case in enumerate(self.cases):
                for t in self.config.targets:
                    if shard is None or shard.owns((case.id, t.name, epoch)):
                        yield i, t.name, epoch

    def identity_hash(self) -> str:
        """Hash of what determines results; equal hashes may share (resume) a run."""
        cfg = self.config
        return content_hash(
            {
                "targets": [
                    [t.name, t.model, t.params, t.stream, t.system_prompt] for t in cfg.targets
                ],
                "epochs": cfg.epochs,
                "scorers": [s.model_dump() for s in cfg.scorer_specs()],
                "cases": [
                    [c.id, h, c.weight] for c, h in zip(self.cases, self.case_hashes, strict=True)
                ],
            }
        )

    def stored_config(self) -> dict[str, Any]:
        """The resolved config to store with the run: header values that look secret are
        masked (keys themselves are never in a config: only their variable names)."""
        data = self.config.model_dump(mode="json")
        if "://" in data["store"]:  # a database URL may carry a password
            from sqlalchemy import make_url

            data["store"] = make_url(data["store"]).render_as_string(hide_password=True)
        for t in data["targets"]:
            t["headers"] = {
                k: ("***" if _SECRETISH.search(k) else v) for k, v in t["headers"].items()
            }
        return data

    def case_table(self) -> dict[str, dict[str, Any]]:
        """Case id -> the fields an export needs (RunInfo.cases)."""
        return {
            c.id: {
                "hash": h,
                "segments": c.segments,
                "weight": c.weight,
                "adversarial": c.adversarial,
                "cluster": c.cluster,
            }
            for c, h in zip(self.cases, self.case_hashes, strict=True)
        }


def suite_path(config_path: Path, rel: str) -> Path:
    """A suite path from the config, resolved against the config file's folder."""
    p = Path(rel).expanduser()
    return p if p.is_absolute() else config_path.parent / p


def load_plan(
    config: EvalConfig, config_path: str | Path, *, node: yaml.Node | None = None
) -> Plan:
    """Load every suite of ``config`` (paths relative to ``config_path``'s folder).

    ``node`` (the config's YAML node tree, from ``parse_yaml``) lets errors about the
    config itself name its line.

    Raises:
        ConfigError: a suite file does not exist.
        SuiteError: a suite line is invalid, or a case id repeats within or across suites.
    """
    cpath = Path(config_path)
    cases: list[Case] = []
    origin: dict[str, Path] = {}
    for i, ref in enumerate(config.suite_refs()):
        path = suite_path(cpath, ref.path)
        if not path.is_file():
            loc: tuple[int | str, ...] = (
                ("suite",) if isinstance(config.suite, str) else ("suite", i)
            )
            raise ConfigError(
                f"suite file not found: {path}",
                path=cpath,
                line=_line_of(node, loc) if node is not None else None,
                field=".".join(str(p) for p in loc),
                hint="suite paths are relative to the config file's folder",
            )
        for case in iter_cases(path):
            if case.id in origin:
                raise SuiteError(
                    f"case id {case.id!r} is also in {origin[case.id]}",
                    path=path,
                    field="id",
                    hint="case ids must be unique across all suites of a config",
                )
            origin[case.id] = path
            if ref.weight is not None:
                case.weight = ref.weight
            cases.append(case)
    if not cases:
        raise ConfigError("the suites hold no cases", path=cpath, field="suite")
    return Plan(config, cpath, cases, [c.content_hash() for c in cases])
