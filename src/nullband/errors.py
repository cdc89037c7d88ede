"""The one exception hierarchy of nullband.

Every error the package raises on purpose derives from :class:`NullbandError`. The CLI
catches that base class and prints ``str(error)`` (never a traceback) and exits with
``error.exit_code`` (2, a usage or input error, unless a subclass says otherwise).

Messages say what happened, the values involved, and what to do next.
"""

from __future__ import annotations

from pathlib import Path


class NullbandError(Exception):
    """Base class of every error nullband raises on purpose.

    Args:
        message: what happened and what to do about it.
        hint: an optional extra sentence telling the user how to fix it.
    """

    exit_code: int = 2

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(self.__str__())

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message}\n  hint: {self.hint}"
        return self.message


class InputError(NullbandError):
    """A file the user gave us is malformed: names the file, line and field.

    Args:
        message: what is wrong.
        path: the file.
        line: 1-based line number, when known.
        field: dotted path of the offending field, when known.
        hint: how to fix it.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        line: int | None = None,
        field: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.path = str(path) if path is not None else None
        self.line = line
        self.field = field
        where = ""
        if self.path is not None:
            where = self.path
            if line is not None:
                where += f":{line}"
            where += ": "
        if field:
            where += f"field '{field}': "
        super().__init__(where + message, hint=hint)


class ConfigError(InputError):
    """An eval, gate or load configuration is invalid."""


class SuiteError(InputError):
    """A suite file (JSONL of cases) is invalid."""


class UsageError(NullbandError):
    """The command was called wrongly (bad option values, missing environment variable)."""


class StoreError(NullbandError):
    """The run store cannot be opened, migrated, read or written."""

    def __init__(self, message: str, *, run_id: str | None = None, hint: str | None = None) -> None:
        self.run_id = run_id
        super().__init__(message, hint=hint)


class TargetError(NullbandError):
    """A model endpoint failed in a way that retries cannot fix."""

    def __init__(
        self,
        message: str,
        *,
        target: str | None = None,
        case_id: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.target = target
        self.case_id = case_id
        super().__init__(message, hint=hint)


class ScorerError(NullbandError):
    """A scorer could not be loaded or configured."""


class StatsError(NullbandError):
    """A statistic was asked for on data that cannot support it."""


class CompareError(InputError):
    """Two result sets cannot be compared (duplicate ids, unreadable input)."""
