"""Which request paths a fault's route globs select.

Observability and control survive chaos: /metrics, /health and /admin/* are only faulted by a
pattern that names them explicitly (starts with their path), never by "*" or "/a*"-style globs.
"""

from fnmatch import fnmatchcase

PROTECTED_PREFIXES = ("/metrics", "/health", "/admin")
ALL_ROUTES = ("*",)
MAX_PATTERN_LEN = 200


def is_protected(path: str) -> bool:
    """True for the paths that only an explicit pattern may fault."""
    return any(path == p or path.startswith(p + "/") for p in PROTECTED_PREFIXES)


def glob_problem(pattern: str) -> str | None:
    """Return why `pattern` is not a usable route glob, or None when it is fine."""
    if not isinstance(pattern, str) or not pattern:
        return "must be a non-empty string"
    if len(pattern) > MAX_PATTERN_LEN:
        return f"must be at most {MAX_PATTERN_LEN} characters"
    if pattern != "*" and not pattern.startswith("/"):
        return f"must be '*' or start with '/' (got {pattern!r})"
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
    """True when `path` is selected by any of `patterns` (protected paths need explicit ones)."""
    protected = next((p for p in PROTECTED_PREFIXES if path == p or path.startswith(p + "/")), None)
    for pattern in patterns:
        if protected is not None and not pattern.startswith(protected):
            continue
        if fnmatchcase(path, pattern):
            return True
    return False
