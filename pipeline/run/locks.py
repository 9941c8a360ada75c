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
    one-line RunBusy that names the command in the way."""
    folder = ensure_writable_dir(Path(run_dir) / FOLDER, "run directory")
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


def _unlink(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()
