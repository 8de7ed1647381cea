"""Test-suite settings: deterministic hypothesis runs (CI must never draw a new case)."""

from hypothesis import settings

settings.register_profile("harlax", derandomize=True, deadline=None, max_examples=25,
                          print_blob=True)
settings.load_profile("harlax")
