"""``python -m copgate`` runs the command line."""

import sys

from copgate.cli import main

sys.exit(main())
