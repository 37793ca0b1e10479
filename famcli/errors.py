"""The errors a user can cause and fix: the CLI prints them as one line `Error: ...` and exits 1.

Anything else that escapes a command is a bug in famcli, reported as an internal error (exit 70,
`FAMCLI_DEBUG=1` shows the traceback). Every famcli error class derives from UserError; so do the
ValueErrors that name a bad option or file.
"""


class UserError(ValueError):
    """Bad input: an option, a file, a model or a saved state that cannot serve the command."""
