"""Reading untrusted JSON advisories safely: size and depth limits, strict validation, errors with JSON pointers.

A document is read at most `MAX_BYTES`, decoded as UTF-8, parsed once by the standard library with duplicate keys,
NaN/Infinity, lone surrogates and nesting deeper than `MAX_DEPTH` refused, then validated by strict pydantic models
(no coercion: a score written as a string is an error). Every failure is an `AdvisoryError` whose problems name the
file and the JSON pointer (RFC 6901) of the bad value.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from patchorch.errors import AdvisoryError, Problem

MAX_BYTES = 20 * 1024 * 1024
MAX_DEPTH = 64
MAX_PROBLEMS = 20
MAX_STRING = 1_000_000

Model = TypeVar("Model", bound=BaseModel)


class Strict(BaseModel):
    """Base of the format models: strict types, frozen, unknown keys ignored (the formats allow extensions)."""

    model_config = ConfigDict(
        strict=True, frozen=True, extra="ignore", str_max_length=MAX_STRING, populate_by_name=True
    )


class PointerProblem(Problem):
    """A problem at a JSON pointer of a file, shown as `file: /pointer: message`."""

    __slots__ = ()

    def __str__(self) -> str:
        parts = [part for part in (self.file, self.field) if part]
        text = ": ".join([*parts, self.message])
        if self.allowed:
            text += f" (allowed: {self.allowed})"
        return text


def pointer(location: Sequence[int | str]) -> str:
    """The JSON pointer of a path: `("a", 0, "b/c")` -> `/a/0/b~1c`; the whole document is the empty pointer."""
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in location)


def problem(file: str, location: Sequence[int | str], message: str, value: object = None) -> PointerProblem:
    """A problem at `location` of `file`; a short representation of a scalar value is appended to the message."""
    if isinstance(value, str | int | float | bool) and value is not None:
        shown = repr(value)
        message += f" (got {shown[:80]}{'...' if len(shown) > 80 else ''})"
    return PointerProblem(message, file=file, field=pointer(location) or None, value=value)


def fail(file: str, location: Sequence[int | str], message: str, value: object = None) -> AdvisoryError:
    """An AdvisoryError for one problem."""
    return AdvisoryError([problem(file, location, message, value)])


class _Duplicate(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _Duplicate(key)
        result[key] = value
    return result


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not allowed")


def parse_json(raw: bytes, file: str) -> Any:
    """Parse `raw` as one JSON document within the limits; AdvisoryError otherwise."""
    if len(raw) > MAX_BYTES:
        raise fail(file, (), f"larger than the limit of {MAX_BYTES // (1024 * 1024)} MiB")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise fail(file, (), f"not UTF-8 (byte {exc.start})") from None
    text = text.removeprefix("\ufeff")
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constants)
    except _Duplicate as exc:
        raise fail(file, (), f"duplicate key {str(exc)!r} in an object") from None
    except json.JSONDecodeError as exc:
        raise AdvisoryError(
            [PointerProblem(f"not valid JSON: {exc.msg} (line {exc.lineno} column {exc.colno})", file=file)]
        ) from None
    except RecursionError:
        raise fail(file, (), f"nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:  # NaN/Infinity, integers beyond Python's digit limit
        raise fail(file, (), f"not valid JSON: {exc}") from None
    _check_values(data, file)
    return data


def _check_values(data: Any, file: str) -> None:
    """Depth, finite numbers and encodable strings, walked without recursion."""
    stack: list[tuple[Any, tuple[int | str, ...]]] = [(data, ())]
    while stack:
        value, location = stack.pop()
        if len(location) > MAX_DEPTH:
            raise fail(file, location, f"nested deeper than {MAX_DEPTH} levels")
        if isinstance(value, dict):
            for key, item in value.items():
                _check_text(key, file, location)
                stack.append((item, (*location, key)))
        elif isinstance(value, list):
            stack.extend((item, (*location, index)) for index, item in enumerate(value))
        elif isinstance(value, float) and not math.isfinite(value):
            raise fail(file, location, "number out of range")
        elif isinstance(value, str):
            _check_text(value, file, location)


def _check_text(value: str, file: str, location: tuple[int | str, ...]) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise fail(file, location, "string with a lone surrogate escape") from None


def validate(model: type[Model], data: Any, file: str) -> Model:
    """Validate parsed JSON against a strict model; AdvisoryError listing at most MAX_PROBLEMS problems."""
    try:
        # Validate the re-serialised JSON so strict mode sees JSON types (dates as strings, arrays as tuples).
        return model.model_validate_json(json.dumps(data, allow_nan=False))
    except ValidationError as exc:
        problems = [
            problem(file, _location(error["loc"]), error["msg"], error.get("input"))
            for error in exc.errors(include_url=False)[:MAX_PROBLEMS]
        ]
        raise AdvisoryError(problems) from None


def _location(loc: Sequence[int | str]) -> tuple[int | str, ...]:
    # pydantic appends the name of a validator or union member to some locations; those are not JSON keys.
    return tuple(part for part in loc if not (isinstance(part, str) and ("[" in part and part.endswith("]"))))
