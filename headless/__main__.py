"""`python -m headless`: see headless/cli.py and docs/headless.md."""

import sys

from .cli import main

sys.exit(main())
