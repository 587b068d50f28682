"""`python -m stack.telegram_sandbox`: run the sandbox under gunicorn in the foreground.

    python -m stack.telegram_sandbox --port 8081 --data .stack/telegram/messages.jsonl

Options override TELEGRAM_SANDBOX_PORT / _HOST / _DATA (defaults 8081, 127.0.0.1,
.stack/telegram/messages.jsonl). Other settings: TELEGRAM_SANDBOX_FAULT (JSON, as
PUT /sandbox/faults), TELEGRAM_SANDBOX_RATE_LIMIT ("N/S"), TELEGRAM_SANDBOX_CHATS and
TELEGRAM_SANDBOX_TOKENS (the chats and bot tokens that exist; without them any is accepted, and
the start says so), TELEGRAM_SANDBOX_THREADS, TELEGRAM_SANDBOX_LOG_LEVEL.

A port already in use is refused at once (exit 2), naming TELEGRAM_SANDBOX_PORT and a free one,
instead of gunicorn retrying its bind.
"""

import argparse
import os
import sys
from pathlib import Path

from stack.procs import free_port, port_in_use
from stack.telegram_sandbox.config import DEFAULT_DATA_PATH, DEFAULT_PORT, strictness

CONF = Path(__file__).with_name("gunicorn.conf.py")


def _port(raw: str) -> int:
    try:
        port = int(raw)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"expected a TCP port number (got {raw!r})") from err
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"expected 1..65535 (got {port})")
    return port


def parse_args(argv=None, environ=None) -> argparse.Namespace:
    """The command line, with defaults from the environment."""
    env = os.environ if environ is None else environ
    parser = argparse.ArgumentParser(
        prog="python -m stack.telegram_sandbox",
        description="Run the Telegram Bot API sandbox under gunicorn (foreground).")
    parser.add_argument("--port", type=_port,
                        default=_port(env.get("TELEGRAM_SANDBOX_PORT") or str(DEFAULT_PORT)),
                        help="TCP port (env TELEGRAM_SANDBOX_PORT, default %(default)s)")
    parser.add_argument("--host", default=env.get("TELEGRAM_SANDBOX_HOST") or "127.0.0.1",
                        help="address to bind (env TELEGRAM_SANDBOX_HOST, default %(default)s)")
    parser.add_argument("--data", default=env.get("TELEGRAM_SANDBOX_DATA") or DEFAULT_DATA_PATH,
                        help="JSON-lines message file (env TELEGRAM_SANDBOX_DATA, "
                             "default %(default)s)")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    """Exec gunicorn with the sandbox's config file and the chosen port/host/data."""
    args = parse_args(argv)
    if port_in_use(args.port, args.host):
        print(f"TELEGRAM_SANDBOX_PORT: port {args.port} on {args.host} is already in use; stop "
              f"what listens there or choose a free port, e.g. "
              f"TELEGRAM_SANDBOX_PORT={free_port(args.host)} make telegram-sandbox",
              file=sys.stderr)
        return 2
    print(f"Telegram sandbox on http://{args.host}:{args.port}: {strictness()}",
          file=sys.stderr, flush=True)
    env = {**os.environ, "TELEGRAM_SANDBOX_PORT": str(args.port),
           "TELEGRAM_SANDBOX_HOST": args.host,
           "TELEGRAM_SANDBOX_DATA": str(Path(args.data).absolute())}
    cmd = [sys.executable, "-m", "gunicorn", "-c", str(CONF)]
    os.execve(sys.executable, cmd, env)  # noqa: S606 - replaces this process, fixed argv
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
