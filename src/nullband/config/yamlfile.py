"""Load YAML into pydantic models with errors that name the file, line and field.

Every YAML config of nullband (eval configs, gates, load configs) goes through
:func:`load_yaml_model`, so each reports mistakes the same way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from nullband.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


def _line_of(node: yaml.Node | None, loc: tuple[int | str, ...]) -> int | None:
    """1-based line of the node at ``loc`` (or of its nearest existing ancestor)."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if node is None:
            break
        nxt: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                    nxt = value
                    line = key.start_mark.line + 1
                    break
        elif (
            isinstance(node, yaml.SequenceNode)
            and isinstance(part, int)
            and 0 <= part < len(node.value)
        ):
            nxt = node.value[part]
            line = nxt.start_mark.line + 1
        if nxt is None:
            break
        node = nxt
    return line


def _fix_hint(err: Any, model: type[BaseModel]) -> str | None:
    etype = err["type"]
    if etype == "extra_forbidden":
        return "remove it, or check its spelling against `nullband schema config`"
    if etype == "missing":
        return "add this field"
    if etype.startswith(("float", "int", "bool", "string")):
        return f"expected a value of type {etype.split('_')[0]}"
    return None


def parse_yaml(text: str, path: str | Path) -> tuple[Any, yaml.Node | None]:
    """Parse YAML text, returning the data and its node tree (for line numbers).

    Raises:
        ConfigError: the text is not valid YAML.
    """
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"invalid YAML: {problem}", path=path, line=line) from None
    return data, node


def validate_data(model: type[M], data: Any, node: yaml.Node | None, path: str | Path) -> M:
    """Validate parsed YAML data against ``model``, mapping errors to lines.

    Raises:
        ConfigError: naming the file, line, field and the fix.
    """
    if not isinstance(data, dict):
        raise ConfigError(
            f"expected a mapping at the top level, got {type(data).__name__}", path=path, line=1
        )
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and "[" in p))
        field = ".".join(str(p) for p in loc) or None
        msg = "unknown field" if err["type"] == "extra_forbidden" else err["msg"]
        more = len(exc.errors()) - 1
        if more:
            msg += f" (and {more} more problem{'s' if more > 1 else ''})"
        raise ConfigError(
            msg, path=path, line=_line_of(node, loc), field=field, hint=_fix_hint(err, model)
        ) from None


def load_yaml_model(path: str | Path, model: type[M]) -> M:
    """Read a YAML file and validate it as ``model``.

    Raises:
        ConfigError: the file is missing, is not YAML, or does not fit the model.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("file not found", path=p) from None
    except OSError as exc:
        raise ConfigError(f"cannot read file: {exc.strerror}", path=p) from None
    data, node = parse_yaml(text, p)
    return validate_data(model, data, node, p)
