"""Moving file bytes to an API with progress: a reader that counts and hashes what is sent.

openstacksdk has no progress hook for an upload, so the file goes through a reader that counts
and hashes what the HTTP client reads (one pass: the hashes are ready when the upload ends, to
compare with what the service says it stored). A reader may cover a slice of the file (one
segment of a large object).
"""

from __future__ import annotations

import io
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

CHUNK = 1 << 20


class ProgressReader(io.IOBase):
    """A file an HTTP body is read from: ``length`` bytes from ``offset`` (default: all of it);
    each chunk updates ``hashes`` and reports the bytes done of this reader's size."""

    def __init__(
        self,
        path: Path,
        on_read: Callable[[int, int], None],
        hashes: Sequence[Any] = (),
        *,
        offset: int = 0,
        length: int | None = None,
        every: float = 0.2,
    ):
        super().__init__()
        self._file = path.open("rb")
        self._file.seek(offset)
        left = os.fstat(self._file.fileno()).st_size - offset
        self.size = left if length is None else min(length, left)
        self.done = 0
        self._hashes = hashes
        self._on_read = on_read
        self._every = every
        self._last = 0.0

    def read(self, size: int | None = -1) -> bytes:
        """A chunk for the HTTP body (http.client asks for 8 KiB at a time): reported at most
        every ``every`` seconds, and at the end."""
        want = CHUNK if size is None or size < 0 else size
        block = self._file.read(min(want, self.size - self.done))
        for digest in self._hashes:
            digest.update(block)
        self.done += len(block)
        now = time.monotonic()
        if now - self._last >= self._every or self.done == self.size:
            self._last = now
            self._on_read(self.done, self.size)
        return block

    def __len__(self) -> int:
        return self.size

    def tell(self) -> int:
        """Where the body stands: with ``__len__``, requests reads the length left from it and
        sends Content-Length (without it, a chunked body, which Swift cannot check against a
        quota before it is stored)."""
        return self.done

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self._file.close()
        super().close()


def rate_text(done: int, size: int, started: float) -> str:
    """``45.0/100.0 MiB, 143 MB/s, 1 s left``."""
    seconds = max(time.monotonic() - started, 1e-6)
    rate = done / seconds
    left = (size - done) / rate if rate > 0 else 0.0
    return f"{done / 2**20:.1f}/{size / 2**20:.1f} MiB, {rate / 1e6:.0f} MB/s, {left:.0f} s left"
