"""Measurement, kept out of the reading path: pass-key retrieval (passkey, with its haystacks: haystack), the
reading benchmark (bench) and start-up timing (startup).

May import: everything below famcli.cli (docs/design.md, section 11).
"""
