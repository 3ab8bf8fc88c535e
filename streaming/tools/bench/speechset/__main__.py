"""``python -m streaming.tools.bench.speechset fetch|fixtures|manifest``: see ``fixtures``."""

from .fixtures import main

if __name__ == "__main__":
    raise SystemExit(main())
