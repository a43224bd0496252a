"""Frozen records that are cheap to build: :func:`fast_record`.

A run builds a few records per object per check (a :class:`~.types.AssessmentResult` per
result, and in the check kit a ``Verdict`` and a ``Finding`` before it): about 400,000 of
each for the whole catalogue over 50,000 objects. The ``__init__`` that
``@dataclass(frozen=True)`` generates cannot assign ``self.x = x`` (its own ``__setattr__``
raises), so it calls ``object.__setattr__(self, "x", x)`` per field: 2.9 µs for the 15
fields of a result, against 0.4 µs for a slotted dataclass that is not frozen, 1.6 to 2 µs
for an ``__init__`` calling each slot descriptor's bound ``__set__``, and 0.5 µs for a
NamedTuple (which is no record: it equals any tuple of the same values, and iterates).
``bench/bench_records.py`` measures them (issue 14).

:func:`fast_record` keeps the dataclass as it is (fields, defaults, ``__eq__``,
``__hash__``, ``__repr__``, the raising ``__setattr__``, ``dataclasses.replace``) and only
changes how an instance is made. The class gets a ``__new__`` with the ``__init__``'s
signature that fills an instance of a private twin class, one with the same ``__slots__``
and nothing else, whose attributes are plain slot stores, then reassigns the instance's
``__class__`` to the record class (CPython allows it between classes of the same slot
layout); the dataclass ``__init__`` is removed, so ``object.__init__`` runs after
``__new__`` and does nothing. That is 0.6 µs for a result. Pickling and ``copy`` go through
a ``__reduce__`` that calls the class with the field values.

What it accepts, checked when the class is decorated: a frozen dataclass with ``slots=True``
directly over ``object``, whose fields are all ``__init__`` parameters (positional or
keyword) with no default factory, and no ``__post_init__``. The class cannot be subclassed
(a subclass would not share the twin's layout).
"""

from __future__ import annotations

import dataclasses
import sys
from typing import Any, NoReturn, TypeVar

T = TypeVar("T")

_RESERVED = frozenset({"_cls", "_self", "_new", "_twin"})


def fast_record(cls: type[T]) -> type[T]:
    """Give the frozen slotted dataclass ``cls`` a cheap constructor (see the module doc).

    Apply it over the dataclass decorator::

        @fast_record
        @dataclass(frozen=True, slots=True)
        class Result: ...
    """
    fields = _checked_fields(cls)
    names = tuple(f.name for f in fields)
    twin = type(
        f"_{cls.__name__}Builder",
        (),
        {"__slots__": cls.__dict__["__slots__"], "__module__": cls.__module__},
    )
    init = cls.__dict__["__init__"]
    cls.__new__ = _constructor(cls, fields, twin, init)  # type: ignore[method-assign]
    del cls.__init__  # object.__init__ then runs after __new__
    cls.__reduce__ = _reducer(names)  # type: ignore[method-assign]
    cls.__init_subclass__ = classmethod(_no_subclass)  # type: ignore[assignment,method-assign]
    cls.__fast_record__ = init  # type: ignore[attr-defined]  # kept for the tests
    return cls


def _checked_fields(cls: type[Any]) -> tuple[dataclasses.Field[Any], ...]:
    def refuse(why: str) -> NoReturn:
        raise TypeError(f"fast_record({cls.__qualname__}): {why}")

    if not dataclasses.is_dataclass(cls):
        refuse("not a dataclass")
    params = cls.__dataclass_params__  # type: ignore[attr-defined]
    if not params.frozen or not params.init:
        refuse("needs @dataclass(frozen=True) with its generated __init__")
    if "__slots__" not in cls.__dict__ or cls.__bases__ != (object,):
        refuse("needs @dataclass(slots=True) on a class directly over object")
    if hasattr(cls, "__post_init__"):
        refuse("__post_init__ is not supported")
    fields = dataclasses.fields(cls)
    if tuple(cls.__dict__["__slots__"]) != tuple(f.name for f in fields):
        refuse("its __slots__ must be its fields (no weakref_slot)")
    for f in fields:
        if not f.init or f.kw_only or f.default_factory is not dataclasses.MISSING:
            refuse(f"field {f.name!r}: only positional-or-keyword fields with plain defaults")
        if f.name in _RESERVED:
            refuse(f"field {f.name!r}: the name is used by the constructor")
    return fields


def _constructor(
    cls: type[Any], fields: tuple[dataclasses.Field[Any], ...], twin: type, init: Any
) -> Any:
    """The ``__new__``, compiled in the module of ``cls`` (as the dataclass ``__init__`` is,
    so ``typing.get_type_hints`` resolves its annotations there)."""
    defaults = {f"_default_{f.name}": f.default for f in fields}
    params = ", ".join(
        f.name if f.default is dataclasses.MISSING else f"{f.name}=_default_{f.name}"
        for f in fields
    )
    stores = "".join(f"        _self.{f.name} = {f.name}\n" for f in fields)
    closure = ", ".join(["_new", "_twin", *defaults])
    source = (
        f"def __make__({closure}):\n"
        f"    def __new__(_cls, {params}):\n"
        "        _self = _new(_twin)\n"
        f"{stores}"
        "        _self.__class__ = _cls\n"
        "        return _self\n"
        "    return __new__\n"
    )
    module = sys.modules.get(cls.__module__)
    namespace: dict[str, Any] = {}
    exec(source, module.__dict__ if module is not None else {}, namespace)
    new = namespace["__make__"](object.__new__, twin, *defaults.values())
    new.__qualname__ = f"{cls.__qualname__}.__new__"
    new.__doc__ = init.__doc__
    new.__annotations__ = {k: v for k, v in init.__annotations__.items() if k != "return"}
    return staticmethod(new)


def _reducer(names: tuple[str, ...]) -> Any:
    def __reduce__(self: Any) -> tuple[type, tuple[Any, ...]]:
        return type(self), tuple(getattr(self, name) for name in names)

    return __reduce__


def _no_subclass(cls: type, /, **kwargs: Any) -> NoReturn:
    raise TypeError(f"{cls.__qualname__}: a fast_record class cannot be subclassed")
