"""Tools people run against ringadmin, not code the product runs: the RingCX simulator
(``streaming.tools.simulator``) and the benchmarks of the ingest and of transcription with
the speech sets they score against (``streaming.tools.bench``). They may import the runtime
packages, never the other way round: no runtime module may import ``streaming.tools``
(``lint-imports`` checks this contract, configured in ``pyproject.toml``).
"""
