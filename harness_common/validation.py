"""Turn pydantic's validation errors into Problems: a field path and a message with the fix.

    ('slos', 1, 'threshold_ms'), greater_than {gt: 0}, input -5
        -> Problem("slos[1].threshold_ms", "must be > 0 (got -5)")
"""

import types
import typing

from pydantic import BaseModel, ValidationError

from harness_common.errors import Problem

_BOUNDS = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<",
           "less_than_equal": "<="}
_KINDS = {
    "string_type": "must be a string",
    "int_type": "must be a whole number",
    "float_type": "must be a number",
    "bool_type": "must be true or false",
    "list_type": "must be a list",
    "dict_type": "must be a mapping",
    "model_type": "must be a mapping",
    "model_attributes_type": "must be a mapping",
    "finite_number": "must be a finite number",
    "int_from_float": "must be a whole number",
}


def field_path(loc) -> str:
    """('slos', 1, 'threshold_ms') -> 'slos[1].threshold_ms'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def got(value) -> str:
    """A short repr of the offending input for a message."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _submodel(annotation):
    """The BaseModel class inside an annotation like `Foo | None` or `list[Foo]`, or None."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is not None:
        for arg in typing.get_args(annotation):
            found = _submodel(arg)
            if found is not None:
                return found
    return None


def allowed_fields(model: type[BaseModel], loc) -> list[str]:
    """Field names (aliases) allowed at `loc` (the loc of the unknown field) inside `model`."""
    current = model
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        info = current.model_fields.get(part) or next(
            (f for f in current.model_fields.values() if f.alias == part), None)
        sub = _submodel(info.annotation) if info is not None else None
        if sub is None:
            return []
        current = sub
    return sorted(f.alias or name for name, f in current.model_fields.items())


def describe(error: dict, model: type[BaseModel] | None = None) -> str:
    """The message for one pydantic error dict (without the path)."""
    kind, ctx = error["type"], error.get("ctx") or {}
    value = error.get("input")
    if kind == "extra_forbidden":
        allowed = allowed_fields(model, error["loc"]) if model is not None else []
        hint = f"; allowed here: {', '.join(allowed)}" if allowed else ""
        return f"unknown field; remove it or fix its spelling{hint}"
    if kind == "missing":
        return "required field is missing"
    if kind in _BOUNDS:
        bound = next(iter(ctx.values()))
        shown = int(bound) if float(bound).is_integer() else bound
        return f"must be {_BOUNDS[kind]} {shown} (got {got(value)})"
    if kind in _KINDS:
        return f"{_KINDS[kind]} (got {got(value)})"
    if kind in ("string_too_long", "too_long"):
        limit = ctx.get("max_length")
        unit = "characters" if kind == "string_too_long" else "items"
        return f"must be at most {limit} {unit}"
    if kind in ("string_too_short", "too_short"):
        limit = ctx.get("min_length")
        unit = "characters" if kind == "string_too_short" else "items"
        return f"must have at least {limit} {unit}" if limit != 1 else "must not be empty"
    if kind == "string_pattern_mismatch":
        return f"must match {ctx.get('pattern')} (got {got(value)})"
    if kind == "literal_error":
        return f"must be {ctx.get('expected')} (got {got(value)})"
    if kind in ("value_error", "assertion_error"):
        return str(error["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
    return f"{error['msg']} (got {got(value)})"


def problems(err: ValidationError, model: type[BaseModel], prefix: tuple = ()) -> list[Problem]:
    """Every error of a ValidationError as a Problem, paths prefixed with `prefix`."""
    out = []
    for error in err.errors():
        loc = tuple(error["loc"])
        out.append(Problem(field_path(prefix + loc), describe(error, model)))
    return out
