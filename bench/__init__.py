"""bijli's benchmarks: figures, not pass/fail tests; each prints one JSON line.

They run from a source checkout (they are not part of the installed package), from the
repository's root: ``python -m bench.fleet``, ``python -m bench.ingest``, ``python -m
bench.readings``, ``python -m bench.statements``, ``python -m bench.alerts``, or the same
through ``bijli bench fleet|ingest|readings|statements|alerts``.
"""


class BenchError(RuntimeError):
    """The benchmark cannot run as asked (and says why)."""
