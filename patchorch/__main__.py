"""`python -m patchorch` runs the CLI."""

import sys

from patchorch.cli._app import main

sys.exit(main())
