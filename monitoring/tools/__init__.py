"""Tools people run against the supervisors' pages (benchmarks); no runtime module imports them."""
