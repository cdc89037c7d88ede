"""CLI commands of the demo group (filled in by the demo work)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this group's commands to the top-level app."""
    del app
