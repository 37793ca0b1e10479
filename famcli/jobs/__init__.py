"""The jobs users run, as library functions: the options a command runs with (options), a model session (session)
and its recall (lookup), reading a document into it (reading), asking (asking: the model's side; answer: which
sentences answer), chat, the summarize command's work (summarize: it reads and calls famcli.summary), the other
commands' work (commands: ask, chat, stream, the batch worker), pass-key runs (passkey) and many documents at once
(batch).

May import: famcli.common, famcli.documents, famcli.answer, famcli.recall, famcli.core, famcli.models,
famcli.summary. Never famcli.cli, and no signal handlers: only the CLI installs those (docs/design.md, section 11).
"""
