"""`python -m stack.proxy`: see stack.proxy.serve."""

import sys

from stack.proxy.serve import main

sys.exit(main())
