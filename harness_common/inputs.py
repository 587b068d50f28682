"""The one reader of files users hand the harness (specs, experiments, chaos schedules).

Bounded before anything is read whole: a regular file larger than the limit is refused by its
size, and a stream without a size (/dev/zero, a FIFO) is read at most one byte past the limit,
so no input can exhaust memory. Every failure is `error(path, message with the fix)`.
"""

import os
import stat
from pathlib import Path

from harness_common.errors import InputError

MAX_BYTES = 1024 * 1024


def read_input(path: str | os.PathLike, *, what: str, missing_hint: str,
               error: type[InputError] = InputError, max_bytes: int = MAX_BYTES) -> bytes:
    """The bytes of the `what` (e.g. "spec") at `path`; `missing_hint` says what to pass."""
    path = Path(path)
    name = str(path)
    too_big = (f"the file is larger than {max_bytes // 1024} KiB; a {what} is a small "
               "hand-written file")
    try:
        with open(path, "rb") as handle:
            info = os.fstat(handle.fileno())
            if stat.S_ISDIR(info.st_mode):
                raise IsADirectoryError
            if stat.S_ISREG(info.st_mode) and info.st_size > max_bytes:
                raise error(name, too_big)
            data = handle.read(max_bytes + 1)
    except FileNotFoundError:
        raise error(name, f"no such file; {missing_hint}") from None
    except IsADirectoryError:
        raise error(name, f"is a directory; pass the {what} file itself") from None
    except OSError as err:
        raise error(name, f"cannot be read ({err.strerror or type(err).__name__})") from None
    if len(data) > max_bytes:
        raise error(name, too_big)
    return data
