"""``python -m jupyter_vlass.cli``."""

import sys

from .main import main

sys.exit(main())
