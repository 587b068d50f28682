"""`python -m target_app.faults`: the fault CLI under its first name (harness_common.faults.cli)."""

import sys

from harness_common.faults.cli import main

sys.exit(main())
