"""A small PromQL subset: enough to evaluate kafkalab's alert rules without a Prometheus server.

Supported (with Prometheus' semantics unless noted):
- selectors `name{label="v", label!="v", label=~"re", label!~"re"}`, range selectors `name[1m]`;
- `rate(x[d])` and `increase(x[d])`, with counter resets handled; unlike Prometheus the value is
  not extrapolated to the window's edges, it is (last - first) / (t_last - t_first) over the
  samples in the window (two samples at least);
- `sum | min | max | avg | count` with an optional `by (labels)` (before or after the argument);
- `+ - * /` and the comparisons `> < >= <= == !=` between scalars and vectors (comparisons
  filter, and keep the left side's value), with one-to-one matching on identical label sets;
- numbers and parentheses. The metric name is dropped from every result (as Prometheus does
  for anything computed).

Anything else is a `PromQLError` at parse time, so `kafkalab alerts` refuses a rule file it
could only misread — and the unit tests keep the shipped rules inside this subset.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from kafkalab.errors import KafkalabError

Labels = frozenset[tuple[str, str]]
Vector = dict[Labels, float]
Value = float | Vector

AGGREGATIONS = ("sum", "min", "max", "avg", "count")
FUNCTIONS = ("rate", "increase")
COMPARISONS = (">", "<", ">=", "<=", "==", "!=")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


class PromQLError(KafkalabError):
    hint = (
        "kafkalab evaluates a PromQL subset: selectors, rate/increase, sum/min/max/avg/count by, "
        "+ - * / and comparisons (see kafkalab/monitoring/promql.py)"
    )


class Samples(Protocol):
    """Where an expression reads its data (the scrape history, or planted values in tests)."""

    def instant(self, name: str) -> Sequence[tuple[Labels, float]]:
        """The latest value of every series called `name`."""
        ...

    def window(
        self, name: str, seconds: float
    ) -> Sequence[tuple[Labels, list[tuple[float, float]]]]:
        """(time, value) samples of every series called `name` from the last `seconds`."""
        ...


# -- the syntax tree -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Matcher:
    label: str
    op: str  # = != =~ !~
    value: str

    def matches(self, labels: Mapping[str, str]) -> bool:
        found = labels.get(self.label, "")
        if self.op == "=":
            return found == self.value
        if self.op == "!=":
            return found != self.value
        hit = re.fullmatch(self.value, found) is not None
        return hit if self.op == "=~" else not hit


@dataclass(frozen=True)
class Number:
    value: float


@dataclass(frozen=True)
class Selector:
    name: str
    matchers: tuple[Matcher, ...] = ()
    range_seconds: float | None = None


@dataclass(frozen=True)
class Call:
    function: str
    argument: Selector


@dataclass(frozen=True)
class Aggregate:
    op: str
    by: tuple[str, ...]
    expr: Expr


@dataclass(frozen=True)
class Binary:
    op: str
    left: Expr
    right: Expr


Expr = Number | Selector | Call | Aggregate | Binary


def metric_names(expr: Expr) -> set[str]:
    """Every metric name an expression reads (the catalogue test checks them)."""
    if isinstance(expr, Selector):
        return {expr.name}
    if isinstance(expr, Call):
        return {expr.argument.name}
    if isinstance(expr, Aggregate):
        return metric_names(expr.expr)
    if isinstance(expr, Binary):
        return metric_names(expr.left) | metric_names(expr.right)
    return set()


def longest_range(expr: Expr) -> float:
    """The widest range selector in `expr` (how much history an evaluator must keep)."""
    if isinstance(expr, Call):
        return expr.argument.range_seconds or 0.0
    if isinstance(expr, Aggregate):
        return longest_range(expr.expr)
    if isinstance(expr, Binary):
        return max(longest_range(expr.left), longest_range(expr.right))
    return 0.0


# -- parsing ---------------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<number>\d+(?:\.\d+)?(?:[eE][+-]?\d+)?(?![\w:]))
    | (?P<duration>\d+(?:ms|s|m|h|d))
    | (?P<name>[a-zA-Z_:][\w:]*)
    | (?P<string>"(?:[^"\\]|\\.)*")
    | (?P<op>=~|!~|!=|>=|<=|==|[-+*/><=(){}\[\],])
    )""",
    re.VERBOSE,
)


def parse_duration(text: str) -> float:
    match = re.fullmatch(r"(\d+)(ms|s|m|h|d)", text.strip())
    if not match:
        raise PromQLError(f"'{text}' is not a duration like 30s, 1m or 5m")
    return int(match.group(1)) * _UNITS[match.group(2)]


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise PromQLError(f"cannot read '{text[pos:].strip()[:20]}' in: {text}")
        kind = match.lastgroup or "op"
        out.append((kind, match.group(kind)))
        pos = match.end()
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokens(text)
        self.pos = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if token is None or (value is not None and token[1] != value):
            found = token[1] if token else "the end"
            raise PromQLError(f"expected {value or 'more'} but found {found} in: {self.text}")
        self.pos += 1
        return token

    def at(self, *values: str) -> bool:
        token = self.peek()
        return token is not None and token[0] == "op" and token[1] in values

    def parse(self) -> Expr:
        expr = self.comparison()
        if self.peek() is not None:
            raise PromQLError(f"unexpected '{self.peek()[1]}' in: {self.text}")  # type: ignore[index]
        return expr

    def comparison(self) -> Expr:
        left = self.additive()
        while self.at(*COMPARISONS):
            op = self.take()[1]
            left = Binary(op, left, self.additive())
        return left

    def additive(self) -> Expr:
        left = self.multiplicative()
        while self.at("+", "-"):
            op = self.take()[1]
            left = Binary(op, left, self.multiplicative())
        return left

    def multiplicative(self) -> Expr:
        left = self.unary()
        while self.at("*", "/"):
            op = self.take()[1]
            left = Binary(op, left, self.unary())
        return left

    def unary(self) -> Expr:
        if self.at("-"):
            self.take()
            return Binary("*", Number(-1.0), self.unary())
        return self.primary()

    def primary(self) -> Expr:
        token = self.peek()
        if token is None:
            raise PromQLError(f"the expression ends too early: {self.text}")
        kind, value = token
        if kind == "number":
            self.take()
            return Number(float(value))
        if kind == "op" and value == "(":
            self.take()
            inner = self.comparison()
            self.take(")")
            return inner
        if kind != "name":
            raise PromQLError(f"unexpected '{value}' in: {self.text}")
        self.take()
        if value in AGGREGATIONS:
            return self.aggregation(value)
        if value in FUNCTIONS:
            self.take("(")
            argument = self.selector(self.take()[1])
            self.take(")")
            if argument.range_seconds is None:
                raise PromQLError(f"{value}() needs a range like {argument.name}[1m]")
            return Call(value, argument)
        if self.at("("):
            raise PromQLError(f"the function '{value}' is not supported")
        return self.selector(value)

    def aggregation(self, op: str) -> Aggregate:
        by = self.by() if self.peek() == ("name", "by") else ()
        self.take("(")
        inner = self.comparison()
        self.take(")")
        if not by and self.peek() == ("name", "by"):
            by = self.by()
        if self.peek() == ("name", "without"):
            raise PromQLError("'without' is not supported: use 'by'")
        return Aggregate(op, by, inner)

    def by(self) -> tuple[str, ...]:
        self.take("by")
        self.take("(")
        labels: list[str] = []
        while not self.at(")"):
            labels.append(self.take()[1])
            if self.at(","):
                self.take(",")
        self.take(")")
        return tuple(labels)

    def selector(self, name: str) -> Selector:
        if not re.fullmatch(r"[a-zA-Z_:][\w:]*", name):
            raise PromQLError(f"'{name}' is not a metric name")
        matchers: list[Matcher] = []
        if self.at("{"):
            self.take("{")
            while not self.at("}"):
                label = self.take()[1]
                op = self.take()[1]
                if op not in ("=", "!=", "=~", "!~"):
                    raise PromQLError(f"'{op}' is not a label matcher in: {self.text}")
                kind, raw = self.take()
                if kind != "string":
                    raise PromQLError(f"label values are quoted strings, not {raw}")
                matchers.append(
                    Matcher(label, op, bytes(raw[1:-1], "utf-8").decode("unicode_escape"))
                )
                if self.at(","):
                    self.take(",")
            self.take("}")
        range_seconds = None
        if self.at("["):
            self.take("[")
            range_seconds = parse_duration(self.take()[1])
            self.take("]")
        return Selector(name, tuple(matchers), range_seconds)


def parse(text: str) -> Expr:
    """The syntax tree of `text`, or a PromQLError saying what is outside the subset."""
    return _Parser(text).parse()


# -- evaluation ------------------------------------------------------------------------------------


def evaluate(expr: Expr, samples: Samples) -> Value:
    """A float (scalar) or a vector {labels: value}."""
    if isinstance(expr, Number):
        return expr.value
    if isinstance(expr, Selector):
        if expr.range_seconds is not None:
            raise PromQLError(f"a range selector ({expr.name}[…]) needs rate() or increase()")
        return {
            labels: value for labels, value in samples.instant(expr.name) if _selected(expr, labels)
        }
    if isinstance(expr, Call):
        return _range_function(expr, samples)
    if isinstance(expr, Aggregate):
        return _aggregate(expr, evaluate(expr.expr, samples))
    return _binary(expr.op, evaluate(expr.left, samples), evaluate(expr.right, samples))


def _selected(selector: Selector, labels: Labels) -> bool:
    as_dict = dict(labels)
    return all(m.matches(as_dict) for m in selector.matchers)


def _range_function(call: Call, samples: Samples) -> Vector:
    selector = call.argument
    assert selector.range_seconds is not None
    out: Vector = {}
    for labels, points in samples.window(selector.name, selector.range_seconds):
        if len(points) < 2 or not _selected(selector, labels):
            continue
        increase = 0.0
        for (_, before), (_, after) in zip(points, points[1:], strict=False):
            increase += after - before if after >= before else after  # a reset starts at 0
        elapsed = points[-1][0] - points[0][0]
        if elapsed <= 0:
            continue
        out[labels] = increase / elapsed if call.function == "rate" else increase
    return out


def _aggregate(expr: Aggregate, value: Value) -> Vector:
    if not isinstance(value, dict):
        raise PromQLError(f"{expr.op}() needs a vector, not a number")
    groups: dict[Labels, list[float]] = {}
    for labels, sample in value.items():
        key = frozenset((k, v) for k, v in labels if k in expr.by)
        groups.setdefault(key, []).append(sample)
    reduce: dict[str, Callable[[list[float]], float]] = {
        "sum": math.fsum,
        "min": min,
        "max": max,
        "avg": lambda xs: math.fsum(xs) / len(xs),
        "count": lambda xs: float(len(xs)),
    }
    return {key: reduce[expr.op](values) for key, values in groups.items()}


_ARITHMETIC: dict[str, Callable[[float, float], float]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
}
_COMPARE: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    "<": operator.lt,
    ">=": operator.ge,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}


def _apply(op: str, left: float, right: float) -> float:
    if op == "/":
        if right == 0:
            return math.nan if left == 0 or math.isnan(left) else math.copysign(math.inf, left)
        return left / right
    return _ARITHMETIC[op](left, right)


def _binary(op: str, left: Value, right: Value) -> Value:
    comparison = op in _COMPARE
    if not isinstance(left, dict) and not isinstance(right, dict):
        if comparison:
            return 1.0 if _COMPARE[op](left, right) else 0.0
        return _apply(op, left, right)
    if isinstance(left, dict) and isinstance(right, dict):
        pairs = [
            (labels, value, right[labels]) for labels, value in left.items() if labels in right
        ]
        keep_left = True
    elif isinstance(left, dict):
        pairs = [(labels, value, float(right)) for labels, value in left.items()]  # type: ignore[arg-type]
        keep_left = True
    else:
        assert isinstance(right, dict)
        pairs = [(labels, float(left), value) for labels, value in right.items()]
        keep_left = False
    if comparison:
        return {
            labels: (a if keep_left else b)
            for labels, a, b in pairs
            if _COMPARE[op](a, b)  # NaN compares false, as in Prometheus
        }
    return {labels: _apply(op, a, b) for labels, a, b in pairs}
