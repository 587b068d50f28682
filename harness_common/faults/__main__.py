"""`python -m harness_common.faults`: see harness_common.faults.cli."""

import sys

from harness_common.faults.cli import main

sys.exit(main())
