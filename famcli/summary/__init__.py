"""What `famcli summarize` makes of a document, without the reading itself (famcli.jobs.summarize reads and
calls these): a note per section (notes, with the sentences that carry it: extract, and the one that tells it:
telling), who and where (cast), the chapters in order (outline), and the summary told from the notes (summary).
The manual is docs/summaries.md."""
