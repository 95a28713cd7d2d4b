from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.dispatch.receiver import Receiver
from tests.ops.procs import procs

__all__ = ["procs"]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r = await Receiver().start()
    try:
        yield r
    finally:
        await r.close()
