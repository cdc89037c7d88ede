"""The public API: `nullband.__all__` lists exactly the public names, sorted."""

from __future__ import annotations

import types

import nullband


def test_all_is_sorted_and_matches_public_names() -> None:
    public = {
        name
        for name, value in vars(nullband).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert nullband.__all__ == sorted(nullband.__all__)
    assert set(nullband.__all__) == public


def test_every_exported_error_derives_from_the_base() -> None:
    for name in nullband.__all__:
        obj = getattr(nullband, name)
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, nullband.NullbandError), name
