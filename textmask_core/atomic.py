"""Atomic file writes: readers see the old file or the new one, never a partial write."""

from __future__ import annotations

import contextlib
import os
import uuid
from pathlib import Path

# Windows opens files in text mode unless O_BINARY is given. Other systems have no such flag.
_O_BINARY: int = getattr(os, "O_BINARY", 0)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and ``os.replace``.

    The temporary file lies beside the target because ``os.replace`` is atomic only within one
    file system. It is removed again if any step fails, and the target is left as it was.
    The parent folder must exist.
    """
    target = Path(path)
    temporary = target.with_name(f".{target.name}.{uuid.uuid4().hex[:12]}.tmp")
    # os.open with mode 0o666 lets the umask set the permissions, as a plain open() would.
    # tempfile.mkstemp would leave the file readable by its owner only.
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_BINARY, 0o666)
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
