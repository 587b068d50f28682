"""`python -m target_app.faults`: the fault CLI under its first name (see harness.faults.cli)."""

import sys

from harness.faults.cli import main

sys.exit(main())
