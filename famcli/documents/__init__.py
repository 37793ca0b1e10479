"""Documents as text: the reader every format shares (base), the formats (formats: PDF, EPUB, DOCX, HTML,
compressed files), opening a path by its kind (registry), boilerplate left out of summaries (boilerplate), the
names a text uses (names).

May import: famcli.common, famcli.text. No model, no torch (docs/design.md, section 11).
"""
