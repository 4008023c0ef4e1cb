"""Where in a request an error is: the API's own path (`to[0].name`, `headers.X-Note`).

Pydantic's error locations also name the validator's inner workings: the member of a union
it tried (`constrained-str`), a wrapping validator (`function-wrap[...]`), a dictionary key
(`[key]`). The path follows the request's shape instead, walking the schema beside the
location, so only the parts a client wrote remain.
"""

from __future__ import annotations

import types
from collections.abc import Sequence
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel

Location = Sequence[str | int]


def field_path(body: type[BaseModel], location: Location) -> str:
    """The path of a pydantic error location in a request whose body is `body`."""
    where, *rest = location or ("body",)
    if where == "body":
        rest = rest[1:]  # django-ninja's own wrapper of the body: its parameter's name
        return _walk(body, rest).lstrip(".") or "body"
    return ".".join(str(part) for part in rest) or str(where)  # path and query parameters


def _walk(annotation: Any, location: Location) -> str:
    if not location:
        return ""
    annotation, members = _members(annotation)
    head, rest = location[0], location[1:]
    if len(members) > 1:  # the head names the member pydantic tried
        return _walk(_member(members, rest), rest)
    if (model := _model(annotation)) is not None:
        field = model.model_fields.get(str(head))
        if field is None:  # a validator wrapping the model
            return _walk(model, rest)
        return f".{head}" + _walk(field.annotation, rest)
    origin, arguments = get_origin(annotation), get_args(annotation)
    if origin in (list, tuple) and isinstance(head, int):
        return f"[{head}]" + _walk(arguments[0] if arguments else Any, rest)
    if origin is dict:
        value = arguments[1] if len(arguments) == 2 else Any
        return f".{head}" + (_walk(value, rest) if rest[:1] != ("[key]",) else "")
    return ""  # a plain value: what follows is the validator's


def _members(annotation: Any) -> tuple[Any, list[Any]]:
    """The annotation without Annotated and None, and its union members if it is one."""
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    if get_origin(annotation) in (Union, types.UnionType):
        members = [m for m in get_args(annotation) if m is not type(None)]
        if len(members) == 1:
            return _members(members[0])
        return annotation, members
    return annotation, [annotation]


def _member(members: list[Any], rest: Location) -> Any:
    """The union member the rest of the location goes into: a model that has one of its
    fields, else the first plain one."""
    names = {part for part in rest if isinstance(part, str)}
    for member in members:
        model = _model(member)
        if model is not None and names & set(model.model_fields):
            return member
    return next((m for m in members if _model(m) is None), members[0])


def _model(annotation: Any) -> type[BaseModel] | None:
    found = _members(annotation)[0]
    return found if isinstance(found, type) and issubclass(found, BaseModel) else None
