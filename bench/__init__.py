"""bijli's benchmarks (`python -m bench.…` or `bijli bench …`); not pass/fail tests."""
