"""PromQL that users write (Sloth, OpenSLO, raw native queries) -> the model's event counts.

Every query is parsed with promql-parser (the Rust PromQL parser's Python bindings) before it
is used, so a malformed query is a spec error naming its field before anything is sent. A
query the judge can evaluate is a sum of counters, each over a range:

    sum(rate(http_requests_total{job="api",code=~"5.."}[{{.window}}]))
    sum by (code) (increase(x_total[5m])) - sum(increase(y_total[5m]))
    sum(http_requests{code=~"2xx"})              (a bare counter, OpenSLO `counter: true`)

It becomes Events: signed counter selectors whose increase over a window, summed, is the event
count. The range written in a query is replaced by the window being judged (for Sloth's
`{{.window}}` that is the definition; an OpenSLO `[5m]` is only the query's sampling range).
Grouping (`by`, `without`) is dropped: an SLO has one value over all the series it selects.
Ratios (`A / B`, `1 - A / B`) split into events and total.

parse_events / parse_ratio / parse_histogram_quantile raise QueryError saying what is wrong.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import timedelta

import promql_parser as pp

from slo.spec.model import Events, Term, le_matcher
from slo.spec.presets import status_matcher_problem
from slo.spec.selectors import Matcher, Selector

WINDOW = re.compile(r"\{\{\s*\.window\s*\}\}")
# the placeholder is replaced by this range to parse a template: rare enough to recognise
_SENTINEL = "1234567s"
_SENTINEL_RANGE = timedelta(seconds=1234567)
MAX_QUERY_LEN = 4000
COUNTER_FUNCTIONS = ("rate", "increase")
EXAMPLE = 'sum(rate(http_requests_total{job="api",code=~"5.."}[{{.window}}]))'
_OPS = ((pp.MatchOp.Equal, "="), (pp.MatchOp.NotEqual, "!="), (pp.MatchOp.Re, "=~"),
        (pp.MatchOp.NotRe, "!~"))


class QueryError(ValueError):
    """A query that is not PromQL, or not PromQL the judge can evaluate (message: the fix)."""


@dataclass(frozen=True)
class Parsed:
    """A query's events and how it was written (the function and range of its counters)."""

    events: Events
    function: str | None  # rate | increase | None (bare counters)
    templated: bool  # its ranges are the {{.window}} placeholder


def parse_promql(text: str) -> pp.Expr:
    """The AST of `text` with {{.window}} substituted; QueryError for anything unparsable."""
    if not isinstance(text, str) or not text.strip():
        raise QueryError(f"must be a PromQL query like {EXAMPLE}")
    if len(text) > MAX_QUERY_LEN:
        raise QueryError(f"must be at most {MAX_QUERY_LEN} characters")
    body = WINDOW.sub(_SENTINEL, text)
    left = re.search(r"\{\{[^}]*\}\}", body)
    if left:
        raise QueryError(f"holds the template {left.group(0)!r}; only {{{{.window}}}} is "
                         "substituted")
    try:
        return pp.parse(body)
    except ValueError as err:
        hint = ("; write the query in PromQL (MetricsQL extensions of VictoriaMetrics, such as "
                "histogram_share or a range on vector(), cannot be read)"
                if "unknown function" in str(err) or "ranges only allowed" in str(err) else "")
        raise QueryError(f"is not valid PromQL: {err}{hint} (got {_short(text)})") from None


def _short(text: str) -> str:
    flat = " ".join(text.split())
    return repr(flat if len(flat) <= 120 else flat[:117] + "...")


def _op(op) -> str:
    return next(text for value, text in _OPS if op == value)


def selector_of(node: pp.VectorSelector, text: str) -> Selector:
    """A plain selector from the AST; offsets, @ and `or` matchers cannot be judged."""
    if node.offset is not None or node.at is not None:
        raise QueryError(f"uses offset or @ on {node}; the judge sets the time itself: remove "
                         f"it (got {_short(text)})")
    if node.matchers.or_matchers:
        raise QueryError(f"uses `or` inside a selector ({node}); write one selector per "
                         f"query (got {_short(text)})")
    name = node.name
    matchers = []
    for m in node.matchers.matchers:
        op = _op(m.op)
        if m.name == "__name__":
            if op != "=" or (name is not None and name != m.value):
                raise QueryError(f"must name its metric exactly (got {_short(text)})")
            name = m.value
            continue
        problem = status_matcher_problem(m.name, op, m.value)
        if problem:
            raise QueryError(f"{problem} (got {_short(text)})")
        matchers.append(_bucket(m.name, op, m.value))
    if not name:
        raise QueryError(f"every selector needs a metric name (got {_short(text)})")
    return Selector(name, tuple(matchers))


def _bucket(label: str, op: str, value: str) -> Matcher:
    """A matcher as written, except le="1" (one bucket boundary): that bucket in every spelling
    of its bound ("1" and "1.0": Prometheus 3 writes the one, older clients the other)."""
    if label == "le" and op == "=":
        try:
            bound = float(value)
        except ValueError:
            bound = math.nan
        if math.isfinite(bound):
            return le_matcher(bound, value)
    return Matcher(label, op, value)


def parse_selector(text: str) -> Selector:
    """A plain series selector such as 'http_server_duration_milliseconds{job="api"}'."""
    node = _strip(parse_promql(text))
    if not isinstance(node, pp.VectorSelector):
        raise QueryError(f"must be a series selector like 'metric{{label=\"value\"}}' "
                         f"(got {_short(text)})")
    return selector_of(node, text)


class _Walk:
    """Collects the signed counters of a linear PromQL expression."""

    def __init__(self, text: str, bare: bool):
        self.text = text
        self.bare = bare
        self.functions: set[str] = set()
        self.ranges: set[timedelta] = set()
        self.terms: list[Term] = []

    def refuse(self, what: str) -> QueryError:
        return QueryError(f"{what}; the judge evaluates sums of counters such as {EXAMPLE} "
                          f"(got {_short(self.text)})")

    def visit(self, node, sign: int) -> None:
        if isinstance(node, pp.ParenExpr):
            return self.visit(node.expr, sign)
        if isinstance(node, pp.UnaryExpr):
            return self.visit(node.expr, -sign)
        if isinstance(node, pp.AggregateExpr):
            if str(node.op) != "sum":
                raise self.refuse(f"uses {node.op}(); only sum() aggregates events")
            return self.visit(node.expr, sign)
        if isinstance(node, pp.BinaryExpr):
            op = str(node.op)
            if op not in ("+", "-"):
                raise self.refuse(f"uses the operator {op!r} between counters")
            modifier = node.modifier
            if modifier is not None and (modifier.return_bool or str(modifier.card) not in (
                    "VectorMatchCardinality.OneToOne", "OneToOne")):
                raise self.refuse("uses group_left/group_right or bool")
            self.visit(node.lhs, sign)
            return self.visit(node.rhs, -sign if op == "-" else sign)
        if isinstance(node, pp.Call):
            name = node.func.name
            if name not in COUNTER_FUNCTIONS:
                raise self.refuse(f"uses {name}()")
            (arg,) = node.args
            if not isinstance(arg, pp.MatrixSelector):
                raise self.refuse(f"{name}() must take a range selector like x[5m]")
            self.functions.add(name)
            self.ranges.add(arg.range)
            self.terms.append(Term(sign, selector_of(arg.vector_selector, self.text)))
            return None
        if isinstance(node, pp.VectorSelector):
            if not self.bare:
                raise self.refuse(f"uses the bare selector {node}; count its events with "
                                  "rate() or increase() over [{{.window}}]")
            self.functions.add("")
            self.terms.append(Term(sign, selector_of(node, self.text)))
            return None
        raise self.refuse(f"holds {type(node).__name__} {str(node)[:60]}")


def _events(node, text: str, *, bare: bool, need_window: bool) -> Parsed:
    walk = _Walk(text, bare)
    walk.visit(node, 1)
    if len(walk.functions) > 1:
        raise QueryError(f"mixes {', '.join(sorted(f or 'bare counters' for f in walk.functions))}"
                         f"; count every counter the same way (got {_short(text)})")
    if len(walk.ranges) > 1:
        raise QueryError(f"uses ranges of different lengths; they are all the window being "
                         f"judged: write [{{{{.window}}}}] (got {_short(text)})")
    templated = walk.ranges == {_SENTINEL_RANGE}
    if need_window and not templated:
        raise QueryError(f"must count over the window placeholder, e.g. {EXAMPLE} "
                         f"(got {_short(text)})")
    if not any(t.sign > 0 for t in walk.terms):
        raise QueryError(f"counts no events (every counter is subtracted) (got {_short(text)})")
    function = walk.functions.pop() or None
    return Parsed(Events(tuple(walk.terms)), function, templated)


def parse_events(text: str, *, bare: bool = False, need_window: bool = False) -> Parsed:
    """Events of a counting query. `bare`: plain counter selectors are allowed (OpenSLO
    counters); `need_window`: every range must be {{.window}} (Sloth, native raw queries)."""
    return _events(parse_promql(text), text, bare=bare, need_window=need_window)


def same_form(a: Parsed, b: Parsed, text: str) -> None:
    """Numerator and denominator must count the same way (a ratio of rate to increase is
    off by the window's length)."""
    if a.function != b.function:
        raise QueryError(f"its two sides count differently ({a.function or 'bare counters'} vs "
                         f"{b.function or 'bare counters'}); use the same function on both "
                         f"(got {_short(text)})")


@dataclass(frozen=True)
class Ratio:
    """A raw ratio query split into its events and total; `inverted` for `1 - A / B`."""

    events: Events
    total: Events
    inverted: bool


def _strip(node):
    while isinstance(node, pp.ParenExpr):
        node = node.expr
    return node


def parse_ratio(text: str, *, need_window: bool = False) -> Ratio:
    """`A / B` or `1 - (A / B)` with A and B counting queries."""
    root = _strip(parse_promql(text))
    inverted = False
    if (isinstance(root, pp.BinaryExpr) and str(root.op) == "-"
            and isinstance(_strip(root.lhs), pp.NumberLiteral) and _strip(root.lhs).val == 1):
        root, inverted = _strip(root.rhs), True
    if not (isinstance(root, pp.BinaryExpr) and str(root.op) == "/"):
        raise QueryError(f"a ratio must be written events / total, e.g. "
                         f"{EXAMPLE} / sum(rate(http_requests_total{{job=\"api\"}}"
                         f"[{{{{.window}}}}])) (got {_short(text)})")
    events = _events(root.lhs, text, bare=False, need_window=need_window)
    total = _events(root.rhs, text, bare=False, need_window=need_window)
    same_form(events, total, text)
    return Ratio(events.events, total.events, inverted)


@dataclass(frozen=True)
class QuantileQuery:
    """histogram_quantile(q, sum by (le) (rate(<buckets>[range])))."""

    quantile: float
    buckets: Selector


def parse_histogram_quantile(text: str) -> QuantileQuery:
    """The quantile and bucket selector of an OpenSLO threshold query."""
    root = _strip(parse_promql(text))
    shape = ("must be histogram_quantile(q, sum by (le) (rate(<metric>_bucket{...}[5m]))) "
             f"(got {_short(text)})")
    if not (isinstance(root, pp.Call) and root.func.name == "histogram_quantile"):
        raise QueryError(shape)
    q_node, inner = (_strip(a) for a in root.args)
    if not isinstance(q_node, pp.NumberLiteral):
        raise QueryError(shape)
    if not (isinstance(inner, pp.AggregateExpr) and str(inner.op) == "sum"
            and inner.modifier is not None and "le" in inner.modifier.labels
            and inner.modifier.type == pp.AggModifierType.By):
        raise QueryError("must sum the buckets by le: " + shape)
    parsed = _events(inner.expr, text, bare=False, need_window=False)
    if len(parsed.events.terms) != 1 or parsed.events.terms[0].sign < 0:
        raise QueryError("must read one histogram: " + shape)
    buckets = parsed.events.terms[0].selector
    if not buckets.metric.endswith("_bucket"):
        raise QueryError(f"the quantile must be over a histogram's _bucket series (got "
                         f"{buckets.metric!r})")
    if not 0.0 < q_node.val < 1.0:
        raise QueryError(f"the quantile must be between 0 and 1, exclusive (got {q_node.val:g})")
    return QuantileQuery(q_node.val, buckets)
