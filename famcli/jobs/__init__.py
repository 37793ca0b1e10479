"""The jobs users run, as library functions: the options a command runs with and its prompts (options,
prompts), a model session (session) and its recall (lookup), reading a document into it (reading),
asking (asking: the model's side;
answer: which sentences answer), chat, summaries (extract, notes, summary), the commands' work (commands:
summarize, ask, chat, stream), pass-key runs (passkey) and many documents at once (batch).

May import: famcli.common, famcli.documents, famcli.recall, famcli.core, famcli.models. Never famcli.cli, and no
signal handlers: only the CLI installs those (docs/design.md, section 11).
"""
