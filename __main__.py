"""``python -m zkfle``."""

import sys

from zkfle.cli import main

sys.exit(main())
