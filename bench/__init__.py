"""Benchmarks that print figures (speed and quality); not tests, nothing asserts timings.

`python -m bench` runs every module in this package that has a `run()` function;
`python -m bench classifier` runs only the named ones.
"""
