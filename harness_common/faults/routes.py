"""Which request paths a fault's route globs select.

Observability and control survive chaos: /metrics, /health and /admin/* are never faulted. A
pattern that names them (starts with their path) is refused, so a fault cannot take down the
API that clears it or the scrape that watches it; a wildcard ("*", "/a*") never selects them.
"""

from fnmatch import fnmatchcase

PROTECTED_PREFIXES = ("/metrics", "/health", "/admin")
ALL_ROUTES = ("*",)
MAX_PATTERN_LEN = 200


def is_protected(path: str) -> bool:
    """True for the paths no fault may touch: /metrics, /health, /admin and below them."""
    return any(path == p or path.startswith(p + "/") for p in PROTECTED_PREFIXES)


def names_protected(pattern: str) -> str | None:
    """The protected prefix a pattern names (starts with), or None."""
    return next((p for p in PROTECTED_PREFIXES
                 if pattern == p or pattern.startswith((p + "/", p + "*", p + "?", p + "["))),
                None)


def glob_problem(pattern: str) -> str | None:
    """Return why `pattern` is not a usable route glob, or None when it is fine."""
    if not isinstance(pattern, str) or not pattern:
        return "must be a non-empty string"
    if len(pattern) > MAX_PATTERN_LEN:
        return f"must be at most {MAX_PATTERN_LEN} characters"
    if pattern != "*" and not pattern.startswith("/"):
        return f"must be '*' or start with '/' (got {pattern!r})"
    protected = names_protected(pattern)
    if protected is not None:
        return (f"names {protected}, which is never faulted: /admin, /metrics and /health must "
                f"answer during every fault so it can be watched and cleared (got {pattern!r})")
    if any(c.isspace() or ord(c) < 32 for c in pattern):
        return f"must not contain whitespace or control characters (got {pattern!r})"
    depth = 0
    for c in pattern:
        if c == "[":
            depth += 1
        elif c == "]" and depth:
            depth -= 1
    if depth:
        return f"has an unclosed '[' (got {pattern!r})"
    return None


def matches(path: str, patterns) -> bool:
    """True when `path` is selected by any of `patterns` (a protected path never is)."""
    if is_protected(path):
        return False
    return any(fnmatchcase(path, pattern) for pattern in patterns)
