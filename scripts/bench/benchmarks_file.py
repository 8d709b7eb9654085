"""BENCHMARKS.md: every benchmark script appends its dated rows through append_row."""

from __future__ import annotations

import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PATH = os.path.join(ROOT, "BENCHMARKS.md")
FILE_HEADER = "# Benchmarks\n\nDated rows appended by scripts/bench/*.py. Machine: see each row.\n"


def append_row(section: str, header: str, row: str) -> None:
    """Append a row under '## section', creating the file, or the section with its table header."""
    text = open(PATH).read() if os.path.isfile(PATH) else FILE_HEADER
    marker = f"## {section}\n"
    if marker not in text:
        text = text.rstrip("\n") + f"\n\n{marker}\n{header}\n"
    start = text.index(marker)
    following = text.find("\n## ", start + len(marker))
    end = len(text) if following < 0 else following
    block = text[start:end].rstrip("\n") + "\n" + row + "\n"
    text = text[:start] + block + ("\n" + text[end:].lstrip("\n") if following >= 0 else "")
    with open(PATH, "w") as handle:
        handle.write(text)


def ensure_section_note(section: str, header: str, note: str) -> None:
    """Put `note` (one line) right under '## section' unless the section already says it; creates the
    section with its table header when absent."""
    text = open(PATH).read() if os.path.isfile(PATH) else FILE_HEADER
    marker = f"## {section}\n"
    if marker not in text:
        text = text.rstrip("\n") + f"\n\n{marker}\n{header}\n"
    start = text.index(marker) + len(marker)
    following = text.find("\n## ", start)
    if note in text[start : len(text) if following < 0 else following]:
        return
    text = text[:start] + f"\n{note}\n" + text[start:]
    with open(PATH, "w") as handle:
        handle.write(text)
