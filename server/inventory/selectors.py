"""Label selectors: parsing, matching, and the indexes that keep cross-object lookups fast.

Two shapes of selector exist in Kubernetes and both become a :class:`Selector`:

* ``LabelSelector`` (Deployments, PDBs, NetworkPolicies ...): ``matchLabels`` plus
  ``matchExpressions`` with ``In``/``NotIn``/``Exists``/``DoesNotExist``. An empty selector
  ``{}`` selects everything; an absent one (``None``) selects nothing.
* plain maps (Service ``spec.selector``, ReplicationController): every pair must match; an
  empty or absent map selects nothing (a Service without a selector has no pods).

:class:`LabelIndex` answers "which items does this selector pick" and
:class:`SelectorIndex` answers "which selectors pick these labels" without scanning every
object per question; :class:`~assay.server.inventory.model.Inventory` builds them once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

from assay.server.inventory.raw import as_mapping, as_mappings, string_map

T = TypeVar("T")

OPERATORS = frozenset({"In", "NotIn", "Exists", "DoesNotExist"})


@dataclass(frozen=True, slots=True)
class Requirement:
    """One ``matchExpressions`` entry."""

    key: str
    operator: str
    values: frozenset[str] = frozenset()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        if self.operator == "In":
            return present and labels[self.key] in self.values
        if self.operator == "NotIn":
            return not present or labels[self.key] not in self.values
        if self.operator == "Exists":
            return present
        if self.operator == "DoesNotExist":
            return not present
        return False  # unknown operator: the API server would have rejected it


@dataclass(frozen=True, slots=True)
class Selector:
    """A parsed selector; ``selects_nothing`` marks an absent selector."""

    match_labels: tuple[tuple[str, str], ...] = ()
    expressions: tuple[Requirement, ...] = ()
    selects_nothing: bool = False

    @classmethod
    def from_label_selector(cls, value: object) -> Selector:
        """Parse a ``LabelSelector``; ``None``/non-mapping -> nothing, ``{}`` -> everything."""
        if not isinstance(value, Mapping):
            return NOTHING
        pairs = tuple(sorted(string_map(value.get("matchLabels")).items()))
        requirements = []
        for expression in as_mappings(value.get("matchExpressions")):
            raw_values = expression.get("values")
            values = (
                frozenset(str(v) for v in raw_values)
                if isinstance(raw_values, list)
                else frozenset()
            )
            requirements.append(
                Requirement(
                    str(expression.get("key", "")), str(expression.get("operator", "")), values
                )
            )
        return cls(pairs, tuple(requirements))

    @classmethod
    def from_map(cls, value: object) -> Selector:
        """Parse a plain map selector; empty or absent selects nothing."""
        pairs = tuple(sorted(string_map(as_mapping(value)).items()))
        return cls(pairs) if pairs else NOTHING

    @property
    def selects_everything(self) -> bool:
        return not self.selects_nothing and not self.match_labels and not self.expressions

    def matches(self, labels: Mapping[str, str]) -> bool:
        if self.selects_nothing:
            return False
        for key, value in self.match_labels:
            if labels.get(key) != value:
                return False
        return all(r.matches(labels) for r in self.expressions)

    def required_pairs(self) -> list[tuple[str, str]]:
        """Pairs every matching label set must contain (``matchLabels`` and one-value ``In``)."""
        pairs = list(self.match_labels)
        pairs.extend(
            (r.key, next(iter(r.values)))
            for r in self.expressions
            if r.operator == "In" and len(r.values) == 1
        )
        return pairs

    def required_keys(self) -> list[str]:
        """Keys every matching label set must have."""
        return [r.key for r in self.expressions if r.operator in ("In", "Exists")]


NOTHING = Selector(selects_nothing=True)


class LabelIndex(Generic[T]):
    """Items grouped by namespace and indexed by label pair, for "what does this select"."""

    def __init__(self, entries: Iterable[tuple[str, Mapping[str, str], T]]) -> None:
        self._by_namespace: dict[str, list[tuple[Mapping[str, str], T]]] = defaultdict(list)
        self._by_pair: dict[tuple[str, str, str], list[tuple[Mapping[str, str], T]]] = defaultdict(
            list
        )
        self._by_key: dict[tuple[str, str], list[tuple[Mapping[str, str], T]]] = defaultdict(list)
        for namespace, labels, item in entries:
            entry = (labels, item)
            self._by_namespace[namespace].append(entry)
            for key, value in labels.items():
                self._by_pair[(namespace, key, value)].append(entry)
                self._by_key[(namespace, key)].append(entry)

    def select(self, namespace: str, selector: Selector) -> list[T]:
        """Items in ``namespace`` whose labels ``selector`` matches, in insertion order."""
        if selector.selects_nothing:
            return []
        candidates = self._by_namespace.get(namespace, [])
        for key, value in selector.required_pairs():
            posting = self._by_pair.get((namespace, key, value), [])
            if len(posting) < len(candidates):
                candidates = posting
        for key in selector.required_keys():
            posting = self._by_key.get((namespace, key), [])
            if len(posting) < len(candidates):
                candidates = posting
        return [item for labels, item in candidates if selector.matches(labels)]


class SelectorIndex(Generic[T]):
    """Selectors grouped by namespace, for "which of these select a given label set".

    Each selector is filed under one label pair it requires, so a lookup only tests the
    selectors filed under the pairs the labels actually have (plus the few that require no
    pair, such as an empty selector).
    """

    def __init__(self, entries: Iterable[tuple[str, Selector, T]]) -> None:
        self._by_pair: dict[tuple[str, str, str], list[tuple[int, Selector, T]]] = defaultdict(list)
        self._unkeyed: dict[str, list[tuple[int, Selector, T]]] = defaultdict(list)
        for position, (namespace, selector, item) in enumerate(entries):
            if selector.selects_nothing:
                continue
            pairs = selector.required_pairs()
            if pairs:
                key, value = pairs[0]
                self._by_pair[(namespace, key, value)].append((position, selector, item))
            else:
                self._unkeyed[namespace].append((position, selector, item))

    def selecting(self, namespace: str, labels: Mapping[str, str]) -> list[T]:
        """Items in ``namespace`` whose selector matches ``labels``, in insertion order."""
        found = [e for e in self._unkeyed.get(namespace, ()) if e[1].matches(labels)]
        for key, value in labels.items():
            found.extend(
                e for e in self._by_pair.get((namespace, key, value), ()) if e[1].matches(labels)
            )
        found.sort(key=lambda e: e[0])
        return [item for _, _, item in found]
