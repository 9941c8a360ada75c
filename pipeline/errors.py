"""The one error type users see: a problem they can fix, said in one line."""


class OcrpipeError(Exception):
    """A bad input or state the user can fix; the CLI prints it as one line and exits 2."""

    exit_code = 2


class Interrupted(OcrpipeError):
    """The user pressed Ctrl-C; what was finished is kept and a rerun resumes."""

    exit_code = 130
