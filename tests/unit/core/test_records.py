"""fast_record classes behave as the frozen dataclasses they are, only cheaper to build.

Every class of the server that carries ``@fast_record`` is found by importing the whole
server, and each is checked against its own dataclass ``__init__`` (kept as
``__fast_record__``): same fields from the same arguments, same defaults, same equality,
hash and repr; and each stays immutable, replaceable, picklable and copyable.
"""

from __future__ import annotations

import copy
import dataclasses
import importlib
import inspect
import pickle
import pkgutil
import typing
from typing import Any

import pytest

import assay.server
from assay.server.core.records import fast_record


def _decorated() -> list[type[Any]]:
    for module in pkgutil.walk_packages(assay.server.__path__, "assay.server."):
        if ".migrations" not in module.name:  # alembic scripts, run only by alembic
            importlib.import_module(module.name)
    found: dict[str, type[Any]] = {}
    pending: list[type[Any]] = [object]
    while pending:
        for sub in type.__subclasses__(pending.pop()):
            pending.append(sub)
            if "__fast_record__" in sub.__dict__ and sub.__module__.startswith("assay.server."):
                found[f"{sub.__module__}.{sub.__qualname__}"] = sub
    return [found[name] for name in sorted(found)]


RECORDS = _decorated()


def test_the_hot_records_are_decorated() -> None:
    names = {cls.__qualname__ for cls in RECORDS}
    assert {"AssessmentResult", "Finding", "Verdict"} <= names


class Value:
    """A distinct, hashable field value with a short repr."""

    def __init__(self, label: str) -> None:
        self.label = label

    def __repr__(self) -> str:
        return f"<{self.label}>"


def _values(cls: type[Any], tag: str) -> dict[str, Value]:
    return {f.name: Value(f"{tag}:{f.name}") for f in dataclasses.fields(cls)}


def _by_dataclass_init(cls: type[Any], *args: Any, **kwargs: Any) -> Any:
    made = object.__new__(cls)
    cls.__fast_record__(made, *args, **kwargs)
    return made


def _state(obj: Any) -> tuple[Any, ...]:
    return tuple(getattr(obj, f.name) for f in dataclasses.fields(obj))


@pytest.mark.parametrize("cls", RECORDS, ids=lambda c: c.__qualname__)
def test_fast_construction_agrees_with_the_dataclass_init(cls: type[Any]) -> None:
    values = _values(cls, "a")
    fields = dataclasses.fields(cls)
    required = [f.name for f in fields if f.default is dataclasses.MISSING]
    expected = _by_dataclass_init(cls, *values.values())
    for built in (cls(*values.values()), cls(**values)):
        assert type(built) is cls
        assert all(a is b for a, b in zip(_state(built), _state(expected), strict=True))
        assert built == expected
        assert hash(built) == hash(expected)
        assert repr(built) == repr(expected)
    # the defaults: only the required arguments, positionally and by keyword
    minimal = {name: values[name] for name in required}
    expected = _by_dataclass_init(cls, **minimal)
    for built in (cls(*minimal.values()), cls(**minimal)):
        assert _state(built) == _state(expected)
        for f in fields:
            if f.default is not dataclasses.MISSING:
                assert getattr(built, f.name) is f.default
    # the signature callers and tools see is the dataclass __init__'s
    init = inspect.signature(cls.__fast_record__)
    assert inspect.signature(cls) == init.replace(
        parameters=list(init.parameters.values())[1:], return_annotation=init.empty
    )
    assert typing.get_type_hints(cls.__new__) == {
        k: v for k, v in typing.get_type_hints(cls.__fast_record__).items() if k != "return"
    }


@pytest.mark.parametrize("cls", RECORDS, ids=lambda c: c.__qualname__)
def test_wrong_arguments_fail_as_with_the_dataclass_init(cls: type[Any]) -> None:
    values = list(_values(cls, "a").values())
    with pytest.raises(TypeError):
        cls(*values, Value("one too many"))
    with pytest.raises(TypeError):
        cls(**{f.name: Value("x") for f in dataclasses.fields(cls)}, unknown=1)
    if any(f.default is dataclasses.MISSING for f in dataclasses.fields(cls)):
        with pytest.raises(TypeError):
            cls()


@pytest.mark.parametrize("cls", RECORDS, ids=lambda c: c.__qualname__)
def test_records_stay_immutable(cls: type[Any]) -> None:
    record = cls(**_values(cls, "a"))
    for f in dataclasses.fields(cls):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(record, f.name, Value("new"))
        with pytest.raises(dataclasses.FrozenInstanceError):
            delattr(record, f.name)
    with pytest.raises((dataclasses.FrozenInstanceError, AttributeError, TypeError)):
        record.not_a_field = 1
    assert not hasattr(record, "__dict__")


@pytest.mark.parametrize("cls", RECORDS, ids=lambda c: c.__qualname__)
def test_equality_and_hash_follow_the_fields(cls: type[Any]) -> None:
    values = _values(cls, "a")
    record = cls(**values)
    assert record == cls(**values)
    assert hash(record) == hash(cls(**values))
    assert record != tuple(values.values())
    for name in values:
        other = cls(**{**values, name: Value("b")})
        assert other != record


@pytest.mark.parametrize("cls", RECORDS, ids=lambda c: c.__qualname__)
def test_replace_pickle_and_copy(cls: type[Any]) -> None:
    values = {f.name: f"{f.name}-value" for f in dataclasses.fields(cls)}
    record = cls(**values)
    for name in values:
        changed = dataclasses.replace(record, **{name: "changed"})
        assert type(changed) is cls
        assert changed == cls(**{**values, name: "changed"})
    assert pickle.loads(pickle.dumps(record)) == record
    assert copy.copy(record) == record
    assert copy.deepcopy(record) == record
    assert dataclasses.asdict(record) == values


def test_a_record_cannot_be_subclassed() -> None:
    @fast_record
    @dataclasses.dataclass(frozen=True, slots=True)
    class Point:
        x: int
        y: int = 0

    assert Point(1) == Point(1, 0) == Point(x=1)
    with pytest.raises(TypeError, match="cannot be subclassed"):

        class Point3(Point):
            z: int = 0


@pytest.mark.parametrize(
    ("options", "why"),
    [
        ({"frozen": False, "slots": True}, "frozen"),
        ({"frozen": True}, "slots"),
        ({"frozen": True, "slots": True, "weakref_slot": True}, "weakref"),
    ],
)
def test_only_frozen_slotted_dataclasses_are_accepted(options: dict[str, Any], why: str) -> None:
    class Record:
        x: int

    with pytest.raises(TypeError, match=why):
        fast_record(dataclasses.dataclass(**options)(Record))


def test_fields_the_constructor_cannot_take_are_refused() -> None:
    class WithFactory:
        x: list[int] = dataclasses.field(default_factory=list)

    class KeywordOnly:
        x: int = dataclasses.field(kw_only=True)

    class PostInit:
        x: int

        def __post_init__(self) -> None:
            pass

    for record in (WithFactory, KeywordOnly, PostInit):
        with pytest.raises(TypeError, match="fast_record"):
            fast_record(dataclasses.dataclass(frozen=True, slots=True)(record))
