"""The sandbox's memory: every accepted message, in an append-only JSON-lines file.

Durability: one `os.write` of a whole line and an `fsync` per message, before the bot gets its
`ok`, so a `kill -9` right after the answer loses nothing. On start the file is read back;
message ids keep increasing across restarts. A torn last line (the process died mid-write) is
dropped and cut off the file; garbage anywhere else is an error naming the file and line.

Lines are records with a `type`:
    {"type": "message", "message_id": 7, "chat_id": -100123, "text": "...", ...}
    {"type": "clear", "last_message_id": 7, "at": 1700000000.0}
`clear` (DELETE /sandbox/messages) rewrites the file atomically to a single clear record, so
ids still continue after it.

Thread-safe: one lock guards the file and the in-memory list (gunicorn gthread, one worker).
One process per file: an exclusive flock on `<file>.lock` (freed by the kernel even on kill -9)
refuses a second sandbox that would hand out the same ids.
`path=None` keeps messages in memory only (unit tests that do not care about durability).
"""

import fcntl
import json
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable
from pathlib import Path

from stack.telegram_sandbox.errors import SandboxStoreError
from stack.telegram_sandbox.logmask import LOGGER_NAME

log = logging.getLogger(LOGGER_NAME)


def _close_fds(fds: dict) -> None:
    """Close the store's file descriptors (also run when a store is garbage-collected)."""
    for key in ("data", "lock"):
        fd = fds.pop(key, None)
        if fd is not None:
            os.close(fd)


def _fsync_dir(path: Path) -> None:
    """Make a file's creation or rename durable by syncing its directory."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class MessageStore:
    """Append-only, fsync'ed message log with an in-memory index."""

    def __init__(self, path: str | os.PathLike | None, clock: Callable[[], float] = time.time):
        self.path = Path(path) if path is not None else None
        self.clock = clock
        self._cond = threading.Condition(threading.Lock())
        self._messages: list[dict] = []
        self._last_id = 0
        self._fds: dict[str, int] = {}  # "data": the append fd, "lock": the lock file's fd
        weakref.finalize(self, _close_fds, self._fds)
        # set by metrics.init_app: observes the seconds each durable append took
        self.observe_append: Callable[[float], None] | None = None
        if self.path is not None:
            self._lock()
            self._load()
            self._open()

    @property
    def _fd(self) -> int | None:
        return self._fds.get("data")

    # ------------------------------------------------------------------ file handling
    def _lock(self) -> None:
        """Create the directory and take the exclusive lock, or refuse to start."""
        lock_path = self.path.with_name(self.path.name + ".lock")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fds["lock"] = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as err:
            raise SandboxStoreError(f"{self.path}: cannot create the message file's directory "
                                    f"or lock ({err.strerror}); pass a writable --data") from err
        try:
            fcntl.flock(self._fds["lock"], fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as err:
            _close_fds(self._fds)
            raise SandboxStoreError(f"{self.path}: another Telegram sandbox is using this message "
                                    f"file; stop it, or pass another --data") from err

    def _load(self) -> None:
        """Read the file back (if any), tolerating a torn last line."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return
        except OSError as err:
            raise SandboxStoreError(f"{self.path}: cannot read the message file ({err.strerror}); "
                                    f"check its permissions or pass another --data") from err
        lines = data.split(b"\n")
        offset = 0
        for number, line in enumerate(lines, start=1):
            is_last = number == len(lines) or (number == len(lines) - 1 and lines[-1] == b"")
            if line.strip():
                try:
                    record = json.loads(line)
                    if not isinstance(record, dict):
                        raise ValueError("not a JSON object")
                except ValueError as err:
                    if is_last:
                        log.warning("%s: line %d is torn (the sandbox died mid-write); dropping "
                                    "it (%d bytes)", self.path, number, len(line))
                        self._truncate(offset)
                        return
                    raise SandboxStoreError(
                        f"{self.path}: line {number} is not a JSON record ({err}); the file is "
                        f"damaged: move it away and restart (messages are only test data)"
                    ) from err
                self._replay(record)
            offset += len(line) + 1

    def _replay(self, record: dict) -> None:
        """Apply one stored record to the in-memory state."""
        if record.get("type") == "clear":
            self._messages.clear()
            self._last_id = max(self._last_id, int(record.get("last_message_id", 0)))
        elif record.get("type") == "message":
            self._messages.append(record)
            self._last_id = max(self._last_id, int(record["message_id"]))

    def _truncate(self, size: int) -> None:
        """Cut the file to `size` bytes (drops a torn tail so appends start on a fresh line)."""
        with open(self.path, "r+b") as f:
            f.truncate(size)
            f.flush()
            os.fsync(f.fileno())

    def _open(self) -> None:
        """Open the file for appending, creating it (and its directory) durably."""
        try:
            existed = self.path.exists()
            self._fds["data"] = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            if not existed:
                _fsync_dir(self.path.parent)
        except OSError as err:
            raise SandboxStoreError(f"{self.path}: cannot open the message file for writing "
                                    f"({err.strerror}); pass a writable --data path") from err

    def _write_line(self, record: dict) -> None:
        """Append one record as one line and fsync it."""
        line = (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
        written = os.write(self._fd, line)
        if written != len(line):  # regular files write fully or raise; never append half a line
            raise OSError(f"short write ({written} of {len(line)} bytes)")
        os.fsync(self._fd)

    def close(self) -> None:
        """Close the file and release the lock (tests; a server keeps both for its lifetime)."""
        with self._cond:
            _close_fds(self._fds)

    # ------------------------------------------------------------------ operations
    def append(self, fields: dict) -> dict:
        """Store a message durably and return it with its new message_id and timestamps."""
        with self._cond:
            started = time.perf_counter()
            now = self.clock()
            record = {"type": "message", "message_id": self._last_id + 1, "date": int(now),
                      "received_at": round(now, 6), **fields}
            if self._fd is not None:
                try:
                    self._write_line(record)
                except OSError as err:
                    raise SandboxStoreError(f"{self.path}: cannot append a message ({err}); the "
                                            f"message was not accepted") from err
            self._messages.append(record)
            self._last_id = record["message_id"]
            self._cond.notify_all()
        if self.observe_append is not None:
            self.observe_append(time.perf_counter() - started)
        return record

    def clear(self) -> int:
        """Forget every message (durably); ids keep increasing. Returns how many were dropped."""
        with self._cond:
            dropped = len(self._messages)
            if self.path is not None:
                marker = {"type": "clear", "last_message_id": self._last_id, "at": self.clock()}
                tmp = self.path.with_name(self.path.name + ".tmp")
                try:
                    with open(tmp, "wb") as f:
                        f.write((json.dumps(marker) + "\n").encode())
                        f.flush()
                        os.fsync(f.fileno())
                    os.replace(tmp, self.path)
                    _fsync_dir(self.path.parent)
                    old = self._fds.pop("data", None)
                    if old is not None:
                        os.close(old)
                    self._fds["data"] = os.open(self.path, os.O_WRONLY | os.O_APPEND)
                except OSError as err:
                    raise SandboxStoreError(f"{self.path}: cannot clear the message file ({err})"
                                            ) from err
            self._messages.clear()
            return dropped

    def messages(self) -> list[dict]:
        """A snapshot of the stored messages, oldest first."""
        with self._cond:
            return list(self._messages)

    @property
    def last_id(self) -> int:
        """The highest message_id ever given out (0 before the first)."""
        with self._cond:
            return self._last_id

    def count(self) -> int:
        """How many messages are stored."""
        with self._cond:
            return len(self._messages)

    def last_received_at(self) -> float:
        """Unix time of the newest stored message (0 when there is none)."""
        with self._cond:
            return self._messages[-1]["received_at"] if self._messages else 0.0

    def wait_for_newer(self, after_id: int, timeout: float) -> bool:
        """Block up to `timeout` s until a message with id > after_id exists (long polling)."""
        with self._cond:
            return self._cond.wait_for(lambda: self._last_id > after_id, timeout=max(timeout, 0))


def select(messages: list[dict], *, since: float | None = None, chat: str | None = None,
           contains: str | None = None, after_id: int | None = None,
           bot_id: int | None = None) -> list[dict]:
    """The messages matching every given filter (pure; `chat` is an id or @username)."""
    chat_key = chat.strip().lower() if chat else None
    picked = []
    for m in messages:
        if since is not None and m["received_at"] < since:
            continue
        if after_id is not None and m["message_id"] <= after_id:
            continue
        if bot_id is not None and m["bot_id"] != bot_id:
            continue
        if chat_key is not None and chat_key != str(m["chat_id"]) and \
                chat_key != f"@{(m.get('chat_username') or '').lower()}":
            continue
        if contains is not None and contains not in m["text"] and contains not in m["raw_text"]:
            continue
        picked.append(m)
    return picked
