"""``python -m ringadmin.tools.vendor_fake --port 8900``: the fake without Django."""

from .server import main

if __name__ == "__main__":
    main()
