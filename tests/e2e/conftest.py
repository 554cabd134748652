from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.harness import Harness, running


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Harness]:
    with running(tmp_path) as harness:
        yield harness
