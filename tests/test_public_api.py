"""The public API: `nullband.__all__` lists exactly the public names, sorted, and each resolves."""

from __future__ import annotations

import subprocess
import sys
import types

import nullband


def test_all_is_sorted_and_every_name_resolves() -> None:
    assert nullband.__all__ == sorted(nullband.__all__)
    for name in nullband.__all__:
        assert getattr(nullband, name) is not None, name


_HELPERS = {"annotations", "importlib", "TYPE_CHECKING", "Any"}


def _public(names: list[str]) -> set[str]:
    return {
        n
        for n in names
        if not n.startswith("_")
        and n not in _HELPERS
        and not isinstance(getattr(nullband, n), types.ModuleType)
    }


def test_all_matches_the_public_names() -> None:
    # dir() lists the lazy names too; after loading them, vars() must agree.
    assert _public(dir(nullband)) == set(nullband.__all__)
    for name in nullband.__all__:
        getattr(nullband, name)
    assert _public(list(vars(nullband))) == set(nullband.__all__)


def test_every_exported_error_derives_from_the_base() -> None:
    for name in nullband.__all__:
        obj = getattr(nullband, name)
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, nullband.NullbandError), name


def test_importing_the_package_does_not_load_the_heavy_parts() -> None:
    code = (
        "import sys, nullband;"
        "heavy = [m for m in ('scipy', 'sqlalchemy', 'sklearn', 'aiohttp') if m in sys.modules];"
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
