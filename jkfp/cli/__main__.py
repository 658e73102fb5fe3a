"""`python -m jkfp.cli`: the same as the `jkfp` command."""

import sys

from jkfp.cli import main

sys.exit(main())
