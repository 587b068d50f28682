"""PromQL label matchers and series selectors: parsed from specs, rendered into queries.

    parse_matchers('endpoint=~"/api/.*", method="GET"')   -> (Matcher, Matcher)
    str(Selector("app_requests_total", (Matcher("job", "=", "portfolio-app"),)))
        -> 'app_requests_total{job="portfolio-app"}'

Only the plain matcher grammar is accepted (`label op "value"` pairs); anything else raises
ValueError saying what was expected. Whole queries are parsed by slo.spec.queries.
"""

import re
from dataclasses import dataclass

OPS = ("=~", "!~", "!=", "=")
LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_MATCHER = re.compile(
    r'\s*(?P<label>[a-zA-Z_][a-zA-Z0-9_]*)\s*(?P<op>=~|!~|!=|=)\s*"(?P<value>(?:[^"\\]|\\.)*)"\s*'
)
_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t"}
# RE2 (Prometheus) has none of these; Python's re would accept them, so refuse them here.
_NOT_RE2 = ("(?=", "(?!", "(?<=", "(?<!")
MAX_SELECTOR_LEN = 1000


@dataclass(frozen=True, order=True)
class Matcher:
    """One label matcher: label op "value" (op one of =, !=, =~, !~)."""

    label: str
    op: str
    value: str

    def __str__(self) -> str:
        return f"{self.label}{self.op}{quote(self.value)}"


@dataclass(frozen=True)
class Selector:
    """A series selector: a metric name and its label matchers (rendered in a stable order)."""

    metric: str
    matchers: tuple[Matcher, ...] = ()

    def where(self, *extra: Matcher) -> "Selector":
        """This selector with more matchers."""
        return Selector(self.metric, self.matchers + tuple(extra))

    def renamed(self, metric: str) -> "Selector":
        """The same matchers on another metric (e.g. a histogram's _bucket and _count series)."""
        return Selector(metric, self.matchers)

    def __str__(self) -> str:
        if not self.matchers:
            return self.metric
        return f"{self.metric}{{{','.join(str(m) for m in self.matchers)}}}"


def quote(value: str) -> str:
    """A PromQL double-quoted string literal."""
    escaped = (value.replace("\\", "\\\\").replace('"', '\\"')
               .replace("\n", "\\n").replace("\t", "\\t"))
    return f'"{escaped}"'


def _unquote(raw: str) -> str:
    out, i = [], 0
    while i < len(raw):
        if raw[i] == "\\":
            nxt = raw[i + 1]
            if nxt not in _ESCAPES:
                raise ValueError(f"unsupported escape '\\{nxt}' in a label value; use \\\\ or \\\"")
            out.append(_ESCAPES[nxt])
            i += 2
        else:
            out.append(raw[i])
            i += 1
    return "".join(out)


def regex_problem(pattern: str) -> str | None:
    """Why `pattern` is not a regular expression Prometheus can use, or None."""
    if any(token in pattern for token in _NOT_RE2):
        return f"uses a lookaround, which Prometheus regexes (RE2) do not support (got {pattern!r})"
    if re.search(r"\\[1-9]", pattern):
        return ("uses a backreference, which Prometheus regexes (RE2) do not support "
                f"(got {pattern!r})")
    try:
        re.compile(pattern)
    except (re.error, RecursionError, OverflowError) as err:
        return f"is not a valid regular expression ({err}) (got {pattern!r})"
    return None


def parse_matchers(text: str) -> tuple[Matcher, ...]:
    """Parse 'a="x", b=~"y.*"' (optionally in braces) into matchers; '' gives ()."""
    if not isinstance(text, str):
        raise ValueError(f'must be label matchers like \'endpoint=~"/api/.*"\' (got {text!r})')
    if len(text) > MAX_SELECTOR_LEN:
        raise ValueError(f"must be at most {MAX_SELECTOR_LEN} characters")
    body = text.strip()
    if body.startswith("{") and body.endswith("}"):
        body = body[1:-1]
    matchers: list[Matcher] = []
    pos = 0
    while body[pos:].strip():
        match = _MATCHER.match(body, pos)
        if match is None:
            raise ValueError(
                f"cannot parse label matchers at {body[pos:pos + 30]!r}; write them like "
                f'\'endpoint=~"/api/.*", method="GET"\''
            )
        label, op, value = match["label"], match["op"], _unquote(match["value"])
        if label.startswith("__"):
            raise ValueError(f"label {label!r} is reserved for Prometheus; match a real label")
        if op in ("=~", "!~"):
            problem = regex_problem(value)
            if problem:
                raise ValueError(f"{label}: {problem}")
        matchers.append(Matcher(label, op, value))
        pos = match.end()
        if pos < len(body):
            if body[pos] != ",":
                raise ValueError(f"expected ',' between label matchers at {body[pos:pos + 30]!r}")
            pos += 1
    return tuple(matchers)
