"""Tools people run against ringadmin, not code the product runs: the local fake of
RingCentral and RingCX (``ringadmin.tools.vendor_fake``) that ``make run`` starts in demo
mode, ``manage.py fake_ringcentral`` serves and the tests drive. They may import the runtime
packages, never the other way round: no runtime module may import ``ringadmin.tools``
(``lint-imports`` checks this contract, configured in ``pyproject.toml``); only the project
wiring (``manage.py serve``, the ``fake_ringcentral`` command) starts the fake.
"""
