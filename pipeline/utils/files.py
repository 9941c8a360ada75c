"""Small file-system building blocks: atomic writes, content hashes, a lock."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import threading
from pathlib import Path
from typing import Any, Iterator

from pipeline.errors import OcrpipeError


def _temp_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def atomic_write_bytes(path: Path, data: bytes, durable: bool = False) -> None:
    """Write `data` so that readers see the old file or the new one, never a part.

    `durable` also fsyncs before the rename: used for records (the manifest, checkpoints),
    not for the many small images, where it would cost more than the write itself.
    """
    tmp = _temp_name(path)
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str, durable: bool = False) -> None:
    atomic_write_bytes(path, text.encode("utf-8"), durable=durable)


def atomic_write_json(path: Path, obj: Any, durable: bool = True) -> None:
    """JSON with sorted keys and indentation, so records diff well."""
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n",
                      durable=durable)


def read_text_file(path: Path, option: str) -> str:
    """A user's UTF-8 text file, or a one-line error naming the option and the file."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise OcrpipeError(f"{option} {path}: no such file; check the path") from None
    except UnicodeDecodeError as e:
        raise OcrpipeError(f"{option} {path}: not UTF-8 text (byte {e.start}); convert it to UTF-8") from None
    except OSError as e:
        raise OcrpipeError(f"{option} {path}: cannot be read ({e.strerror})") from None


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def short_hash(data: bytes) -> str:
    """A 16-hex-digit content hash for per-line records (fast, collision-safe enough)."""
    return hashlib.blake2b(data, digest_size=8).hexdigest()


def json_digest(obj: Any) -> str:
    """A stable hash of a JSON-able value (sorted keys), for configs and results."""
    text = json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@contextlib.contextmanager
def flocked(path: Path, shared: bool = False, wait: bool = True) -> Iterator[None]:
    """An advisory lock (flock) on `path`, created if missing, held for the block: exclusive,
    or shared with other readers. With wait=False a conflicting lock raises BlockingIOError
    at once. The kernel drops the lock when the process dies, so none is ever left stale."""
    with open(path, "a+") as f:
        mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
        fcntl.flock(f.fileno(), mode if wait else mode | fcntl.LOCK_NB)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def ensure_writable_dir(path: Path, what: str) -> Path:
    """Create `path` if needed and prove it is writable, or say so in one line."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".write-test.{os.getpid()}.{threading.get_ident()}"   # per thread, too
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise OcrpipeError(f"{what} {path} is not writable ({e.strerror}); "
                           "choose another directory or fix its permissions") from None
    return path


def relative_to(path: Path, base: Path) -> str:
    """`path` relative to `base` where possible (manifests stay valid when a run moves)."""
    try:
        return os.path.relpath(path.resolve(), base.resolve())
    except ValueError:  # another drive (Windows)
        return str(path.resolve())


@contextlib.contextmanager
def scratch_dir(parent: Path, prefix: str) -> Iterator[Path]:
    """A folder for temporary files under `parent/.scratch/`, removed at the end of the block;
    the folders of processes that died (kill -9) are removed by the next one, so none stay."""
    root = ensure_writable_dir(Path(parent) / ".scratch", "run directory")
    for stale in root.glob(f"{prefix}-*"):
        pid = stale.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not process_alive(int(pid)):
            shutil.rmtree(stale, ignore_errors=True)
    folder = root / f"{prefix}-{os.getpid()}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def process_alive(pid: int) -> bool:
    """Whether a process `pid` exists (a signal-0 probe)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:        # another user's process: alive
        return True
    return True
