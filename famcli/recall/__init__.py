"""Recall: the index of what was read, kept beside the fixed-size memory (index: chunks, their tokens, keys or
BM25 terms, and the attention scores over them) and the search over it (search: options, BM25, passages).

May import: famcli.common, famcli.text (docs/design.md, section 11).
"""
