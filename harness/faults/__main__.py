"""`python -m harness.faults`: see harness.faults.cli."""

import sys

from harness.faults.cli import main

sys.exit(main())
