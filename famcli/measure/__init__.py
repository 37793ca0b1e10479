"""Measurement, kept out of the reading path: the reading benchmark (bench), start-up timing (startup) and the
comparison with llama.cpp (llamacpp); pass-key retrieval is famcli.passkey.

May import: everything below famcli.cli (docs/design.md, section 11).
"""
