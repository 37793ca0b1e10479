"""What every layer of famcli shares: errors and their one-line rendering (errors), every limit a hostile input
meets (limits), the cache folder (cache), outputs written safely (outputs), famcli started again in a child
process (child).

May import: nothing of famcli but itself. Everything else may import it (docs/design.md, section 11).
"""
