"""The progress bar of a run: done/total, rate, ETA, errors and spend (rich)."""

from __future__ import annotations

import time
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text


class _RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.1f}/s" if speed else "-/s", style="progress.data.speed")


class RunProgress:
    """A live bar on stderr; a no-op when disabled.

    Updated once per committed batch (not per record) so it costs nothing on the hot path.
    """

    def __init__(self, total: int, *, enabled: bool, label: str = "run") -> None:
        self.enabled = enabled
        self.total = total
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        self._label = label
        self._last = 0.0

    def __enter__(self) -> RunProgress:
        if self.enabled:
            self._progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                _RateColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                TextColumn("errors {task.fields[errors]}  spend ${task.fields[spend]:.4f}"),
                console=Console(stderr=True),
                refresh_per_second=4,
                speed_estimate_period=10.0,
            )
            self._progress.__enter__()
            self._task = self._progress.add_task(self._label, total=self.total, errors=0, spend=0.0)
        return self

    def update(self, done: int, errors: int, spend: float, *, force: bool = False) -> None:
        """Show the counts (at most ~20 times a second unless forced)."""
        if self._progress is None or self._task is None:
            return
        now = time.monotonic()
        if not force and now - self._last < 0.05:
            return
        self._last = now
        self._progress.update(self._task, completed=done, errors=errors, spend=spend)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.__exit__(exc_type, exc, tb)
