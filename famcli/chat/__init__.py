"""Read once, ask many (`famcli chat`): a conversation over one reading, its lines from a pipe or a terminal,
and what it prints (conversation).

May import: everything below it in docs/design.md's table (famcli.jobs for a session, never famcli.cli).
"""
