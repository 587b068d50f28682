"""`python -m target_app serve`: run the app under gunicorn in the foreground (make app)."""

import os
import sys
from pathlib import Path

CONF = Path(__file__).with_name("gunicorn.conf.py")


def main(argv=None) -> int:
    """Exec gunicorn with the package's config; extra arguments go to gunicorn."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] != "serve":
        print("usage: python -m target_app serve [gunicorn options]", file=sys.stderr)
        return 2
    cmd = [sys.executable, "-m", "gunicorn", "-c", str(CONF), *argv[1:]]
    os.execv(sys.executable, cmd)  # noqa: S606 - replaces this process, fixed argv
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
