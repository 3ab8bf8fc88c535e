"""``python -m streaming.tools.simulator``: the same options as ``manage.py ringcx_simulate``."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
