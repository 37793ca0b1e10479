"""The errors a user can cause and fix: the CLI prints them as one line `Error: ...` and exits 1.

Anything else that escapes a command is a bug in famcli, reported as an internal error (exit 70,
`FAMCLI_DEBUG=1` shows the traceback). Every famcli error class derives from UserError; so do the
ValueErrors that name a bad option or file.
"""


class UserError(ValueError):
    """Bad input: an option, a file, a model or a saved state that cannot serve the command."""


class ConfigError(UserError):
    """A memory configuration that cannot work (zero sizes, unknown modes, block larger than the window)."""


class AdapterError(UserError):
    """An adapter file that cannot be read or does not fit the model; the message is one line."""


USER_OS_ERRORS = (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError, FileExistsError)


def is_user_error(exc: BaseException) -> bool:
    """famcli's own errors, and files the user named that cannot be opened; anything else is a bug."""
    return isinstance(exc, (UserError, *USER_OS_ERRORS))


def one_line(exc: BaseException) -> str:
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if is_user_error(exc):
        return message
    return f"internal error ({type(exc).__name__}, set FAMCLI_DEBUG=1 for details): {message}"


class Stopped(KeyboardInterrupt):
    """SIGTERM or SIGHUP (raised by the CLI's handlers): handled like Ctrl-C (what was read is saved where asked),
    exit 128 + the signal."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


class Interrupted(KeyboardInterrupt):
    """A long job stopped by Ctrl-C or a signal, with what it had done by then (`result`, marked partial);
    `cause` is the interrupt itself, which the CLI raises again after printing the result (exit 130 / 143)."""

    def __init__(self, result: dict, cause: BaseException):
        super().__init__(str(cause))
        self.result, self.cause = result, cause
