"""famcli started again in a child process (the benchmarks time each cell in a fresh one).

`python -m famcli` would put the current folder first on the child's path: run from a checkout of the
repository, its top-level `kernels/` folder would then shadow the `kernels` distribution that transformers
imports. The child is started with `-P` (Python 3.11+: no folder prepended) or, on 3.10, through `-c` with the
prepended folder taken off again, so it imports exactly what the installed `famcli` imports.
"""

from __future__ import annotations

import sys

_MAIN = "import sys; sys.path.pop(0); from famcli.__main__ import main; sys.exit(main())"


def famcli_argv(*args: str) -> list[str]:
    """The argument vector that runs `famcli ARGS...` with this interpreter, as the installed command would."""
    head = [sys.executable, "-P", "-m", "famcli"] if sys.version_info >= (3, 11) else [sys.executable, "-c", _MAIN]
    return [*head, *map(str, args)]
