"""The one console every command prints through, and how a table is printed.

    console = make_console()                 # stdout; make_console(stderr=True) for errors
    console.print(Text.assemble(("error:", "bold red"), " ", message))
    print_table(console, "slo rules from slo/slos.yaml", table)

Markup is off: what a message holds is printed as it is. A user's pattern `/api/[a-z]+(` is
never read as a style tag (rich's markup would print it `/api/+(`); colour goes through
rich.text.Text styles (Text.assemble with (text, style) pairs), never through `[red]` tags.

On a terminal, rich lays tables out to its width. Anywhere else (a CI log, a pipe, a file) no
line is wrapped or cut: the console is as wide as the longest line, so an SLO or alert name
is always whole on one line ("availability", never "availabil / ity"). A table's title is its
own line above it, never wrapped to the table's width.
"""

from typing import IO

from rich.console import Console
from rich.table import Table
from rich.text import Text

UNWRAPPED_WIDTH = 100_000   # columns of a console that is not a terminal: nothing wraps


def make_console(*, stderr: bool = False, file: IO[str] | None = None) -> Console:
    """A console (stdout, stderr, or `file`) with markup and highlighting off; as wide as any
    line when it is not a terminal (rich's default there is 80 columns, or $COLUMNS)."""
    console = Console(stderr=stderr, file=file, markup=False, highlight=False)
    if console.is_terminal:
        return console
    return Console(stderr=stderr, file=file, markup=False, highlight=False,
                   width=UNWRAPPED_WIDTH, soft_wrap=True)


def print_table(console: Console, title: str, table: Table) -> None:
    """`table` under `title` (its own line, printed as it is), with no width limit beyond the
    console's: whole cells on any console that is not a terminal."""
    table.title = None
    console.print(Text(title, style="bold"), soft_wrap=True)
    console.print(table)
