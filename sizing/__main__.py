"""``python -m sizing``: the ``size`` command until ``python -m aistack size`` mounts it."""

import sys

from sizing.cli import main

sys.exit(main())
