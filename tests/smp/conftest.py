"""Fixtures of the smp tests: see tests/conftest.py (the compiled SMP protos, ``smp_pb``)."""
