"""The shard format: LMDB files of height-normalized lines that need no decoding to read.

One shard is one LMDB file (`shard-NNNNN.lmdb`, no lock file) holding:

    __meta__     JSON: format, version, height, channels, count, charset_sha256, fingerprint,
                 and the statistics of what was packed and skipped
    __widths__   uint32 array: the width of every line (bucketing needs no pixels)
    __lengths__  uint32 array: the length of every label
    __labels__   JSON list: the NFC text of every line
    __sources__  JSON list: where each line came from (file name or key), for reports
    __fonts__    JSON list: the font of each generated line ("" when unknown)
    __crc32__    uint32 array: the CRC-32 of every line's pixels, checked on each read, so a
                 shard damaged on disk after pack (same size, same time) is an error, not
                 silently wrong pixels (shards of earlier releases have none and are read unchecked)
    __labels_crc32__  the CRC-32 of __labels__, checked when the shard is opened
    %09d         line i: raw uint8 pixels, row-major (height, width, channels)

Reading a line is an LMDB lookup and `np.frombuffer`: ~1-2 µs, against ~100-150 µs to
decode a small PNG. A shard is written under a temporary name and renamed when complete.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import zlib
from pathlib import Path
from typing import Any, Sequence

import lmdb
import numpy as np

from pipeline.errors import OcrpipeError

FORMAT = "ocrpipe.shard/1"
INITIAL_MAP_SIZE = 64 << 20     # grown by doubling when full: no terabyte reservation
FLUSH_EVERY = 256               # lines per write transaction


REPACK = "re-run `ocrpipe pack --force` to write the shards again"   # for a shard changed on disk


class ShardError(OcrpipeError):
    pass


class ShardWriter:
    """Writes one shard; the file appears under its final name only once `close()` ran."""

    def __init__(self, path: Path, height: int, channels: int, charset_sha256: str) -> None:
        self.path = Path(path)
        self.tmp = self.path.with_name(self.path.name + ".tmp")
        self.tmp.unlink(missing_ok=True)
        self.height, self.channels, self.charset_sha256 = height, channels, charset_sha256
        self.env = lmdb.open(str(self.tmp), subdir=False, lock=False, map_size=INITIAL_MAP_SIZE,
                             meminit=False, sync=False, metasync=False)
        self.widths: list[int] = []
        self.labels: list[str] = []
        self.sources: list[str] = []
        self.fonts: list[str] = []
        self.crcs: list[int] = []
        self._pending: list[tuple[bytes, bytes]] = []

    def add(self, pixels: np.ndarray, label: str, source: str, font: str = "") -> None:
        if pixels.dtype != np.uint8 or pixels.shape[0] != self.height or pixels.shape[2] != self.channels:
            raise ValueError(f"expected uint8 (height={self.height}, width, {self.channels}), got {pixels.shape}")
        raw = np.ascontiguousarray(pixels).tobytes()
        self._pending.append((b"%09d" % len(self.widths), raw))
        self.crcs.append(zlib.crc32(raw))
        self.widths.append(int(pixels.shape[1]))
        self.labels.append(label)
        self.sources.append(source)
        self.fonts.append(font)
        if len(self._pending) >= FLUSH_EVERY:
            self._flush()

    def _put(self, items: Sequence[tuple[bytes, bytes]]) -> None:
        while True:
            try:
                with self.env.begin(write=True) as txn:
                    for key, value in items:
                        txn.put(key, value)
                return
            except lmdb.MapFullError:    # the transaction was aborted: grow the map, write again
                self.env.set_mapsize(self.env.info()["map_size"] * 2)
            except lmdb.Error as e:      # LMDB says "Input/output error" when the disk is full
                if shutil.disk_usage(self.tmp.parent).free < (8 << 20):
                    raise OSError(errno.ENOSPC, f"No space left on device ({e})", str(self.tmp)) from None
                raise

    def _flush(self) -> None:
        self._put(self._pending)
        self._pending = []

    def close(self, fingerprint: str, stats: dict[str, Any]) -> dict[str, Any]:
        """Write the index and metadata, then rename into place; returns the metadata."""
        self._flush()
        meta = {"format": FORMAT, "height": self.height, "channels": self.channels, "count": len(self.widths),
                "charset_sha256": self.charset_sha256, "fingerprint": fingerprint, "stats": stats}
        labels = json.dumps(self.labels, ensure_ascii=False).encode("utf-8")
        self._put([(b"__widths__", np.asarray(self.widths, dtype=np.uint32).tobytes()),
                   (b"__lengths__", np.asarray([len(t) for t in self.labels], dtype=np.uint32).tobytes()),
                   (b"__labels__", labels),
                   (b"__labels_crc32__", str(zlib.crc32(labels)).encode()),
                   (b"__sources__", json.dumps(self.sources, ensure_ascii=False).encode("utf-8")),
                   (b"__fonts__", json.dumps(self.fonts, ensure_ascii=False).encode("utf-8")),
                   (b"__crc32__", np.asarray(self.crcs, dtype=np.uint32).tobytes()),
                   (b"__meta__", json.dumps(meta, ensure_ascii=False).encode("utf-8"))])
        self.env.sync(True)
        self.env.close()
        os.replace(self.tmp, self.path)
        return meta

    def abort(self) -> None:
        self.env.close()
        self.tmp.unlink(missing_ok=True)


_OPEN: dict[str, tuple[int, tuple[int, int, int], lmdb.Environment]] = {}
LMDB_MAGIC = 0xBEEFC0DE


def check_complete(path: Path | str) -> None:
    """Refuse an LMDB file cut short (a partial copy or download, a full disk) before it is
    mapped: LMDB maps the file and reading a page past its end kills the process with SIGBUS.

    An LMDB data file starts with two meta pages (LMDB's `MDB_meta` after a 16-byte page
    header: magic, version, address, map size, two 48-byte `MDB_db` records, the last used
    page, the transaction id). The newer meta's last page must lie inside the file."""
    data_file = Path(path) / "data.mdb" if os.path.isdir(path) else Path(path)
    size = data_file.stat().st_size
    with open(data_file, "rb") as f:
        head = f.read(2 * 65536)
    first = _meta_page(head, 0)
    if first is None:
        raise ShardError(f"{data_file}: not an LMDB file (no LMDB header)")
    second = _meta_page(head, first[0])          # the second meta page starts one page in
    if second is None:
        raise ShardError(f"{data_file}: truncated ({size} bytes, less than LMDB's two header pages)")
    page, last, _ = max(first, second, key=lambda m: m[2])
    needed = (last + 1) * page
    if size < needed:
        raise ShardError(f"{data_file}: truncated ({size} of its {needed} bytes)")


def _meta_page(head: bytes, offset: int) -> tuple[int, int, int] | None:
    """(page size, last used page, transaction id) of the meta page at `offset`, or None."""
    if len(head) < offset + 152 or int.from_bytes(head[offset + 16:offset + 20], "little") != LMDB_MAGIC:
        return None
    page = int.from_bytes(head[offset + 40:offset + 44], "little")    # FREE_DBI's md_pad holds the page size
    if page < 512 or page & (page - 1):
        return None
    return (page, int.from_bytes(head[offset + 136:offset + 144], "little"),
            int.from_bytes(head[offset + 144:offset + 152], "little"))


def open_readonly(path: Path | str) -> lmdb.Environment:
    """A read-only LMDB environment for `path` (a file, or an LMDB folder), shared within a process.

    py-lmdb refuses to open one file twice in a process, and LMDB must not be used across
    fork(): an environment inherited from a parent, or one whose file has since been
    replaced (a re-packed shard), is closed and opened afresh. Read-only without a lock
    file, closing it affects this process alone. Readahead is off: reads are random.
    """
    key = os.path.realpath(path)
    stat = os.stat(key)
    signature = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
    pid, seen, env = _OPEN.get(key, (None, None, None))
    if env is not None and (pid != os.getpid() or seen != signature):
        env.close()
        env = None
    if env is None:
        check_complete(key)
        env = lmdb.open(key, subdir=os.path.isdir(key), readonly=True, lock=False, readahead=False, meminit=False)
        _OPEN[key] = (os.getpid(), signature, env)
    return env


def close_readonly(path: Path | str) -> None:
    """Close this process's environment for `path`, if open: before the file is moved, since
    LMDB refuses to open a file that is still open under its old name."""
    pid, _, env = _OPEN.pop(os.path.realpath(path), (None, None, None))
    if env is not None and pid == os.getpid():
        env.close()


def read_meta(path: Path) -> dict[str, Any] | None:
    """A shard's metadata, or None when the file is not a complete ocrpipe shard."""
    if not Path(path).is_file():
        return None
    try:
        with open_readonly(path).begin() as txn:
            raw = txn.get(b"__meta__")
        meta = json.loads(raw) if raw else None
    except (lmdb.Error, ValueError, ShardError):     # unreadable or truncated: not a complete shard
        meta = None
    return meta if isinstance(meta, dict) and meta.get("format") == FORMAT else None


class ShardReader:
    """Random access to one shard. The LMDB environment comes from `open_readonly`, so each
    process (DataLoader workers are forks) opens its own, lazily, on its first read."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise ShardError(f"{self.path}: no such shard; re-run `ocrpipe pack`")
        try:
            env = open_readonly(self.path)          # checks the file is complete before mapping it
        except ShardError as e:
            raise ShardError(f"{e}; re-run `ocrpipe pack` to write it again") from None
        except lmdb.Error as e:
            raise ShardError(f"{self.path} is not a readable LMDB file ({e}); re-run `ocrpipe pack`") from None
        try:
            with env.begin() as txn:
                raw = txn.get(b"__meta__")
                meta = json.loads(raw) if raw else {}
                if meta.get("format") != FORMAT:
                    raise ShardError(f"{self.path} is not an ocrpipe shard (format={meta.get('format')!r}); "
                                     "pack it with `ocrpipe pack` or import it with --from-lmdb")
                self.meta = meta
                self.widths = np.frombuffer(txn.get(b"__widths__"), dtype=np.uint32).copy()
                raw_labels = txn.get(b"__labels__")
                labels_crc = txn.get(b"__labels_crc32__")
                if labels_crc is not None and zlib.crc32(raw_labels) != int(labels_crc):
                    raise ShardError(f"{self.path}: its labels are damaged (they no longer match the checksum pack "
                                     f"wrote: the file changed on disk); {REPACK}")
                self.labels: list[str] = json.loads(raw_labels)
                lengths = txn.get(b"__lengths__")
                self.label_lengths = (np.frombuffer(lengths, dtype=np.uint32).copy() if lengths is not None
                                      else np.array([len(t) for t in self.labels], dtype=np.uint32))
                self.sources: list[str] = json.loads(txn.get(b"__sources__"))
                self.fonts: list[str] = json.loads(txn.get(b"__fonts__"))
                crcs = txn.get(b"__crc32__")
                self.crcs = np.frombuffer(crcs, dtype=np.uint32).copy() if crcs is not None else None
        except lmdb.Error as e:
            raise ShardError(f"{self.path} is not a readable LMDB file ({e}); re-run `ocrpipe pack`") from None
        except (ValueError, TypeError):        # an index that no longer parses: damaged on disk
            raise ShardError(f"{self.path}: its index is damaged (the file changed on disk); {REPACK}") from None
        self.height, self.channels = int(self.meta["height"]), int(self.meta["channels"])

    def __len__(self) -> int:
        return len(self.widths)

    def env(self) -> lmdb.Environment:
        return open_readonly(self.path)

    def images(self, indices: Sequence[int]) -> list[np.ndarray]:
        """The lines at `indices`, as read-only (height, width, channels) uint8 arrays, read
        in one transaction (each value is copied once, by LMDB, into a bytes object)."""
        height, channels = self.height, self.channels
        with self.env().begin() as txn:
            raws = [txn.get(b"%09d" % i) for i in indices]
        for i, raw in zip(indices, raws):
            if raw is None or len(raw) != height * int(self.widths[i]) * channels or (
                    self.crcs is not None and zlib.crc32(raw) != self.crcs[i]):
                raise ShardError(f"{self.path}: line {i} is damaged (its pixels no longer match the checksum "
                                 f"pack wrote: the file changed on disk); {REPACK}")
        return [np.frombuffer(raw, dtype=np.uint8).reshape(height, -1, channels) for raw in raws]

    def image(self, i: int) -> np.ndarray:
        return self.images([i])[0]
