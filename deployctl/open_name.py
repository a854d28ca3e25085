"""`OpenName`: a string type whose valid values come from a registry, not from an `Enum` written once.

Engine names (rows of data/engines.yaml, plus engines registered at run time) and runtime kinds
(registered by `deployctl.runtimes.registry`) are open this way, so adding an engine or a runtime is
one module and one registry line, never an edit of the recipe model. What callers may rely on:
- values are interned: `RuntimeKind("docker") is RuntimeKind.DOCKER`, so `is` comparisons work;
- `.value` is the plain string (as with the enums they replaced); iterating the class yields every
  known value; JSON schema lists them as an enum;
- validating an unknown value fails with pydantic's `enum` error shape, which the recipe loader turns
  into "'vlm' is not a valid name — did you mean 'vllm'?".
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar, TypeVar

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

N = TypeVar("N", bound="OpenName")


class _Known(type):
    def __iter__(cls: Any) -> Iterator[Any]:
        return iter([cls(name) for name in cls.known()])


class OpenName(str, metaclass=_Known):
    """Subclasses say which values are valid (`known`)."""

    _interned: ClassVar[dict[str, OpenName]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._interned = {}

    def __new__(cls: type[N], value: str) -> N:
        value = str(value)
        if value not in cls._interned:
            cls._interned[value] = str.__new__(cls, value)
        return cls._interned[value]  # type: ignore[return-value]

    @classmethod
    def known(cls) -> tuple[str, ...]:
        raise NotImplementedError

    @property
    def value(self) -> str:
        return str(self)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_after_validator_function(
            cls._validated, core_schema.str_schema(), serialization=core_schema.to_string_ser_schema()
        )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {"type": "string", "enum": list(cls.known())}

    @classmethod
    def _validated(cls: type[N], value: str) -> N:
        names = cls.known()
        if value not in names:
            expected = ", ".join(f"'{name}'" for name in names)
            raise PydanticCustomError("enum", "Input should be {expected}", {"expected": expected})
        return cls(value)
