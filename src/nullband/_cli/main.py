"""The `nullband` command: wires the command groups; each lives in its own module."""

from __future__ import annotations

import sys

import typer

from nullband._cli import (
    compare_cmd,
    demo_cmd,
    judge_cmd,
    load_cmd,
    run_cmd,
    store_cmd,
    testserver_cmd,
    tools_cmd,
    traces_cmd,
)
from nullband.errors import NullbandError

app = typer.Typer(
    name="nullband",
    help=(
        "Honest LLM eval comparisons: run suites against OpenAI-compatible endpoints, "
        "compare runs with paired statistics per segment, and gate releases.\n\n"
        "Exit codes: 0 pass, 1 gate failed, 2 usage or input error, 3 inconclusive, "
        "4 invalid comparison."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def _root() -> None:
    """nullband: honest LLM eval comparisons."""


@app.command("version")
def version() -> None:
    """Print nullband's version.

    Example: nullband version
    """
    from nullband import __version__

    typer.echo(__version__)


for _module in (
    run_cmd,
    store_cmd,
    compare_cmd,
    tools_cmd,
    judge_cmd,
    traces_cmd,
    load_cmd,
    demo_cmd,
    testserver_cmd,
):
    _module.register(app)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `nullband` script."""
    try:
        app(args=argv, prog_name="nullband")
    except NullbandError as exc:
        sys.stderr.write(f"error: {exc}\n")
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(130)


if __name__ == "__main__":
    main()
