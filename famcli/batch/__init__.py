"""Many documents, one line each (`famcli batch`): the documents found and shared out among worker processes or
Ray actors, resumable (runner), and the worker that loads the model once and runs a command over its share
(worker).

May import: everything below it in docs/design.md's table (famcli.jobs, famcli.passkey), never famcli.cli.
"""
