"""The run manifest: one JSON record per run directory of what each stage used and made.

Layout of `DIR/manifest.json`:

    {"schema_version": 1,
     "stages": {"generate": {"status": "done", "config": {...}, "inputs": {...},
                             "result": {...}, "upstream": {}, "started": "...", ...},
                "pack": {..., "upstream": {"generate": "<digest of generate's result>"}}}}

A stage reads only the `result` of the stage before it, through `require()`, which refuses a
missing, unfinished, stale (its upstream changed since it ran) or altered (its files changed
on disk) upstream with one line that names the fix. Every write is atomic and serialized by a
lock file, so concurrent shards of one stage can share a run directory.
"""

from __future__ import annotations

import contextlib
import functools
import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, TypeVar

from pipeline import __version__
from pipeline.errors import Interrupted, OcrpipeError, Terminated
from pipeline.utils.files import atomic_write_json, ensure_writable_dir, flocked, json_digest
from pipeline.run.results import RESULT_TYPES, StageResult
from pipeline.utils.provenance import command_line, environment, now

SCHEMA_VERSION = 1
FILENAME = "manifest.json"
STAGES = ("generate", "pack", "train", "eval")
UPSTREAM = {"pack": "generate", "train": "pack", "eval": "train"}
STATUSES = ("running", "partial", "done", "failed")

R = TypeVar("R", bound=StageResult)


@functools.lru_cache(maxsize=1)
def git_revision() -> str | None:
    """The ocrpipe source's git commit (with `-dirty` for local changes), if it is a checkout."""
    source = Path(__file__).resolve().parent.parent
    try:
        rev = subprocess.run(["git", "-C", str(source), "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(source), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return rev + ("-dirty" if dirty else "") if rev else None


@dataclass
class StageRecord:
    """One stage's section of the manifest."""

    status: str
    config: dict[str, Any]
    inputs: dict[str, Any] = field(default_factory=dict)
    result: dict[str, Any] = field(default_factory=dict)
    upstream: dict[str, str] = field(default_factory=dict)
    started: str = ""
    finished: str | None = None
    version: str = __version__
    git_revision: str | None = None
    error: str | None = None
    command: str = ""              # the command line that started it: what a rerun types again
    environment: dict[str, Any] = field(default_factory=dict)   # Python, machine, package versions

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> StageRecord:
        known = {k: d[k] for k in cls.__dataclass_fields__ if k in d}
        return cls(**known)


def _damage(doc: dict[str, Any]) -> str | None:
    """What a hand edit or a damaged copy broke in the document's shape, or None."""
    stages = doc["stages"]
    if not isinstance(stages, dict):
        return f"'stages' is a {type(stages).__name__}, not a mapping of stages"
    for name, section in stages.items():
        if not isinstance(section, dict):
            return f"stage {name!r} is a {type(section).__name__}"
        if section.get("status") not in STATUSES:
            return f"stage {name!r} has status {section.get('status')!r}"
        for key in ("config", "inputs", "result", "upstream"):
            if not isinstance(section.get(key, {}), dict):
                return f"the {key} of stage {name!r} is a {type(section[key]).__name__}"
    return None


class Manifest:
    """Reads and updates `run_dir/manifest.json`."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / FILENAME
        self._lock = self.run_dir / ".manifest.lock"

    # -- reading -------------------------------------------------------------------------
    def load(self) -> dict[str, Any]:
        """The whole document (an empty one when the run has no manifest yet)."""
        if not self.path.exists():
            return {"schema_version": SCHEMA_VERSION, "stages": {}}
        try:
            doc = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise OcrpipeError(f"{self.path} is not a readable manifest ({e}); "
                               "restore it or start a new run with another --run") from None
        version = doc.get("schema_version") if isinstance(doc, dict) else None
        if version != SCHEMA_VERSION:
            raise OcrpipeError(f"{self.path} has schema_version {version!r}, this ocrpipe reads "
                               f"{SCHEMA_VERSION}; use the ocrpipe version that made it or start a new --run")
        doc.setdefault("stages", {})
        problem = _damage(doc)
        if problem:
            raise OcrpipeError(f"{self.path} is damaged ({problem}); restore it, remove that stage's entry and "
                               "run the stage again, or start a new run with another --run")
        return doc

    def stage(self, name: str) -> StageRecord | None:
        section = self.load()["stages"].get(name)
        return StageRecord.from_dict(section) if section else None

    def stale_reason(self, name: str, doc: dict[str, Any] | None = None) -> str | None:
        """Why `name`'s record no longer matches its upstream, or None when it still does."""
        doc = doc or self.load()
        section = doc["stages"].get(name)
        up = UPSTREAM.get(name)
        if not section or not up or up not in section.get("upstream", {}):
            return None
        up_section = doc["stages"].get(up)
        if not up_section:
            return f"its {up} record is gone"
        if json_digest(up_section.get("result", {})) != section["upstream"][up]:
            return f"{up} was re-run after {name}"
        return None

    def require(self, name: str, result_type: type[R] | None = None, force: bool = False) -> R:
        """The typed result of a finished stage, or a one-line error that names the fix.

        `force` skips the staleness and on-disk checks (the user's explicit choice), never
        the need for a finished record.
        """
        rec = self.stage(name)
        run = self.run_dir
        if rec is None:
            raise OcrpipeError(f"{run} has no {name} result; run `ocrpipe {name} --run {run}` first")
        if rec.status != "done":
            raise OcrpipeError(f"{name} in {run} is {rec.status}, not done; finish it with "
                               f"`ocrpipe {name} --run {run}` (a rerun resumes)")
        result_type = result_type or RESULT_TYPES[name]
        try:
            result = result_type.from_dict(rec.result)
        except (KeyError, TypeError) as e:
            raise OcrpipeError(f"the {name} record in {self.path} is incomplete ({e}); "
                               f"re-run `ocrpipe {name} --run {run}`") from None
        if not force:
            stale = self.stale_reason(name)
            if stale:
                raise OcrpipeError(f"{name} in {run} is stale: {stale}; re-run `ocrpipe {name} --run {run}` "
                                   "or pass --force to use it anyway")
            problem = result.verify(run)
            if problem:
                raise OcrpipeError(f"{name} outputs in {run} changed since it ran: {problem}; "
                                   f"re-run `ocrpipe {name} --run {run}` or pass --force to use them anyway")
        return result  # type: ignore[return-value]

    # -- writing -------------------------------------------------------------------------
    def update(self, change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        """Apply `change` to the document under the lock and write it atomically."""
        ensure_writable_dir(self.run_dir, "run directory")
        with flocked(self._lock):
            doc = self.load()
            change(doc)
            doc["schema_version"] = SCHEMA_VERSION
            atomic_write_json(self.path, doc)
        return doc

    def begin(self, name: str, config: dict[str, Any], inputs: dict[str, Any] | None = None,
              result: dict[str, Any] | None = None, upstream: dict[str, str] | None = None) -> None:
        """Mark `name` running with its effective config; records which upstream result it
        reads (`upstream` keeps a record made earlier, for a stage that adds to its result)."""

        def change(doc: dict[str, Any]) -> None:
            doc["stages"][name] = self._record(doc, name, "running", config, inputs, result, upstream)

        self.update(change)

    @staticmethod
    def _record(doc: dict[str, Any], name: str, status: str, config: dict[str, Any], inputs: dict[str, Any] | None,
                result: dict[str, Any] | None, upstream: dict[str, str] | None) -> dict[str, Any]:
        up = UPSTREAM.get(name)
        if upstream is None and up and up in doc["stages"]:
            recorded = {up: json_digest(doc["stages"][up].get("result", {}))}
        else:
            recorded = dict(upstream or {})
        return StageRecord(status=status, config=config, inputs=inputs or {}, result=result or {},
                           upstream=recorded, started=now(), git_revision=git_revision(),
                           command=command_line(), environment=environment()).__dict__

    def add_entry(self, name: str, key: str, entry_name: str, entry: dict[str, Any], config: dict[str, Any],
                  inputs: dict[str, Any]) -> None:
        """Record `entry` under result[key][entry_name] of a stage that collects entries (eval's
        evaluations) in one locked read-modify-write: two such commands never lose each other's."""

        def change(doc: dict[str, Any]) -> None:
            before = doc["stages"].get(name) or {}
            entries = dict((before.get("result") or {}).get(key, {}))
            entries[entry_name] = entry
            section = self._record(doc, name, "done", config, inputs, {key: entries}, None)
            section["finished"] = section["started"]
            doc["stages"][name] = section

        self.update(change)

    def finish(self, name: str, result: dict[str, Any], status: str = "done") -> None:
        assert status in STATUSES

        def change(doc: dict[str, Any]) -> None:
            section = doc["stages"].setdefault(name, StageRecord(status, {}).__dict__)
            section.update(status=status, result=result, finished=now(), error=None)

        self.update(change)

    @contextlib.contextmanager
    def recording_failure(self, name: str, kept: str) -> Iterator[None]:
        """Mark `name` failed if the block raises. Ctrl-C becomes a one-line Interrupted that
        says to rerun the command, and what was `kept` for that rerun."""
        try:
            yield
        except KeyboardInterrupt as e:
            self._try_fail(name, "interrupted; rerun the same command to resume")
            raise Interrupted(f"{name} interrupted; rerun the same command to resume ({kept})",
                              terminated=isinstance(e, Terminated)) from None
        except OcrpipeError as e:
            self._try_fail(name, str(e))
            raise
        except Exception as e:      # a bug or a library's failure: the record must not stay `running`
            self._try_fail(name, f"{type(e).__name__}: {e}")
            raise

    def _try_fail(self, name: str, error: str) -> None:
        """Record the failure if the disk lets us (when it is full, it may not: then the record
        stays `running`, no process holds its lock, and `status` reports it interrupted)."""
        try:
            self.fail(name, error)
        except OSError:
            pass

    def fail(self, name: str, error: str, result: dict[str, Any] | None = None) -> None:
        def change(doc: dict[str, Any]) -> None:
            section = doc["stages"].get(name)
            if section is None:
                return
            section.update(status="failed", finished=now(), error=error)
            if result is not None:
                section["result"] = result

        self.update(change)
