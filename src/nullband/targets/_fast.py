"""Building pydantic models without validation on the hot path.

``BaseModel.model_construct`` skips validation but still walks every field for defaults
and aliases (about 9 us per model here). The runner builds four models per call from
values that are already typed, so it fills the instance dict directly, exactly as
``model_construct`` would leave it when every field is given. Callers must pass every
field of the model; a test checks the result equals a validated model.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)

_setattr = object.__setattr__


def build(cls: type[M], fields: dict[str, Any]) -> M:
    """An instance of ``cls`` holding ``fields`` (all of the model's fields), unvalidated."""
    obj = cls.__new__(cls)
    _setattr(obj, "__dict__", fields)
    _setattr(obj, "__pydantic_fields_set__", set(fields))
    _setattr(obj, "__pydantic_extra__", None)
    _setattr(obj, "__pydantic_private__", None)
    return obj
