"""The one error type users see: a problem they can fix, said in one line."""


class OcrpipeError(Exception):
    """A bad input or state the user can fix; the CLI prints it as one line and exits 2."""

    exit_code = 2


class Interrupted(OcrpipeError):
    """Ctrl-C (exit code 130) or SIGTERM (143) stopped a command cleanly; what was finished is
    kept and a rerun resumes."""

    exit_code = 130

    def __init__(self, message: str, terminated: bool = False) -> None:
        super().__init__(message)
        if terminated:
            self.exit_code = 143


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C in the main thread so that every `finally` and every
    failure record runs (a job scheduler's stop, `kill`, a container shutting down)."""
