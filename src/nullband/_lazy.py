"""Names a package exports but imports only on first use (PEP 562 module ``__getattr__``)."""

from __future__ import annotations

import importlib
from typing import Any


def load(namespace: dict[str, Any], table: dict[str, str], name: str) -> Any:
    """The value of ``name`` from the module ``table`` names (``"module"`` or
    ``"module:attribute"``), kept in ``namespace`` (the package's globals) so the next
    lookup is a plain attribute.

    Raises:
        AttributeError: ``name`` is not one of the package's lazy names.
    """
    where = table.get(name)
    if where is None:
        raise AttributeError(f"module {namespace['__name__']!r} has no attribute {name!r}")
    module, _, attr = where.partition(":")
    value = getattr(importlib.import_module(module), attr or name)
    namespace[name] = value
    return value
