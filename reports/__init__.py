"""LaTeX tables, HTML and Markdown reports rendered from results documents."""
