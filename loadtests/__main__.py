"""`python -m loadtests web|headless|distributed` (see loadtests/cli.py)."""

import sys

from loadtests.cli import main

if __name__ == "__main__":
    sys.exit(main())
