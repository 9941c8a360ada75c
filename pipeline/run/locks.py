"""Stage locks of a run directory: two commands never write one stage at once, and no stage
rewrites files that another command is reading.

A stage's writer holds an exclusive `flock` on `RUN/.locks/STAGE`; a stage that reads an
upstream stage's files holds a shared lock on the upstream's file. The kernel drops flock
locks with the process, so a crash or `kill -9` frees them: a `running` record whose lock is
free was interrupted. Beside each lock, `STAGE.PID` names the command that holds it, so the
refusal can say which process to wait for.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Iterator

from pipeline.errors import OcrpipeError
from pipeline.utils.provenance import command_line
from pipeline.utils.files import ensure_writable_dir, flocked, process_alive

FOLDER = ".locks"


class RunBusy(OcrpipeError):
    pass


def holders(run_dir: Path, stage: str) -> list[str]:
    """`command (pid N)` for each live process that named itself as holding `stage`'s lock."""
    found = []
    for note in sorted((Path(run_dir) / FOLDER).glob(f"{stage}.*")):
        pid = note.suffix[1:]
        if pid.isdigit() and int(pid) != os.getpid() and process_alive(int(pid)):
            try:
                command = note.read_text(encoding="utf-8").strip()
            except OSError:
                command = "ocrpipe"
            found.append(f"`{command}` (pid {pid})")
    return found


def is_held(run_dir: Path, stage: str) -> bool:
    """Whether some process holds `stage`'s lock now (a writer or a reader)."""
    path = Path(run_dir) / FOLDER / stage
    if not path.exists():
        return False
    try:
        with flocked(path, wait=False):
            return False
    except BlockingIOError:
        return True


@contextlib.contextmanager
def hold(run_dir: Path, write: str | None = None, read: tuple[str, ...] = ()) -> Iterator[None]:
    """Hold `write`'s lock exclusively and each of `read` shared for the block, or raise a
    one-line RunBusy that names the command in the way. A run folder this call created is
    removed again when the block refuses its input (an OcrpipeError) before writing anything
    there: a mistyped command leaves no empty run behind."""
    created = not Path(run_dir).exists()
    folder = ensure_writable_dir(Path(run_dir) / FOLDER, "run directory")
    try:
        with _locked(run_dir, folder, write, read):
            yield
    except OcrpipeError:
        if created:
            _remove_if_untouched(Path(run_dir))
        raise


@contextlib.contextmanager
def _locked(run_dir: Path, folder: Path, write: str | None, read: tuple[str, ...]) -> Iterator[None]:
    wanted = [(write, False)] if write else []
    wanted += [(stage, True) for stage in read]
    with contextlib.ExitStack() as stack:
        for stage, shared in wanted:
            try:
                stack.enter_context(flocked(folder / stage, shared=shared, wait=False))
            except BlockingIOError:
                who = ", ".join(holders(run_dir, stage)) or "another ocrpipe command"
                raise RunBusy(f"{run_dir}: {who} is using its {stage} files now; wait for it to finish "
                              "(or stop it), then run this command again") from None
            note = folder / f"{stage}.{os.getpid()}"
            note.write_text(command_line() + "\n", encoding="utf-8")
            stack.callback(_unlink, note)
        yield


def _remove_if_untouched(run_dir: Path) -> None:
    """Remove `run_dir` if it holds nothing but free lock files and an empty scratch folder.
    Anything else (a manifest, another command's lock or note) keeps it; only empty folders
    are removed, so a file another command writes meanwhile stops the removal."""
    locks, scratch = run_dir / FOLDER, run_dir / ".scratch"
    try:
        if set(os.listdir(run_dir)) - {FOLDER, ".scratch"} or (scratch.exists() and any(scratch.iterdir())):
            return
        lock_files = list(locks.iterdir()) if locks.exists() else []
        if any("." in f.name for f in lock_files) or any(is_held(run_dir, f.name) for f in lock_files):
            return
        for f in lock_files:
            f.unlink()
        for empty in (locks, scratch, run_dir):
            if empty.exists():
                empty.rmdir()
    except OSError:          # another command is starting there: leave the folder to it
        return


def _unlink(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()
