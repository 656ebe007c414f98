"""Lumaflow's test suite. Its shared helpers (tests/fixtures.py) assert too: pytest rewrites their asserts."""

import pytest

pytest.register_assert_rewrite("tests.fixtures")
