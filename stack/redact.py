"""`python -m stack.redact -- CMD ...`: run CMD with bot tokens masked in its output.

Alertmanager 0.25 logs a failed Telegram delivery with Go's URL error, which contains the request
URL — and the Bot API puts the token in the path (/bot<token>/sendMessage). The launcher runs
Alertmanager (and Grafana) behind this filter so the log files never hold a token.

The filter shares the child's process group: the launcher's SIGTERM reaches both; the filter
ignores it, drains the child's last lines and exits with the child's status.
"""

import signal
import subprocess
import sys

# The sandbox's masking (keeps at most 2 characters of the secret at each end), so the stack's
# logs and the sandbox's own logs mask tokens the same way.
from stack.telegram_sandbox.logmask import mask_tokens_in as mask_tokens


def main(argv=None) -> int:
    """Run the command after `--`, copying its output to stdout with tokens masked."""
    argv = sys.argv[1:] if argv is None else argv
    if "--" not in argv or argv.index("--") == len(argv) - 1:
        print("usage: python -m stack.redact -- CMD [ARGS...]", file=sys.stderr)
        return 2
    cmd = argv[argv.index("--") + 1:]
    # Catch (not ignore: SIG_IGN would be inherited by the child) SIGTERM/SIGINT: the child
    # gets the same signal from the group; we keep draining its output until it exits.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: None)
    child = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,  # noqa: S603
                             stdin=subprocess.DEVNULL)
    out = sys.stdout.buffer
    for line in child.stdout:
        out.write(mask_tokens(line.decode("utf-8", "replace")).encode("utf-8"))
        out.flush()
    return child.wait()


if __name__ == "__main__":
    sys.exit(main())
