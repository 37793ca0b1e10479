"""Pass keys: synthetic needles in a haystack of real text, the checks of what a memory keeps (`famcli passkey`):
the haystacks and their generated facts (haystack), the trials, their table and plot (trials).

May import: everything below it in docs/design.md's table (famcli.jobs for a session, never famcli.cli).
"""
