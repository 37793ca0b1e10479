"""Documents as text: what every format gives (base), the formats, one module each behind one registry (formats:
PDF, compressed text, EPUB, DOCX, HTML, text), opening a path or a stream by its kind (registry), what is not
the work (boilerplate: licences, contents, headings) and where a reader stops (until).

May import: famcli.common, famcli.text. No model, no torch (docs/design.md, section 11).
"""
