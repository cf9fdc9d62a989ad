"""Test-signal synthesis shared by the unit tests, the parity check and the benchmark."""
