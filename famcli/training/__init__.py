"""Training adapters for the memories: the loop and its checkpoints (train), generated training documents
(data), memory replay back-propagation (mrbp).

May import: famcli.common, famcli.documents, famcli.core, famcli.models, famcli.jobs (docs/design.md,
section 11).
"""
