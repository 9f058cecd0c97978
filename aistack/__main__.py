"""``python -m aistack``."""

import sys

from aistack.cli import main

sys.exit(main())
