"""Customer text made safe to carry: control characters removed at intake.

A case's text comes from anyone who can reach the intake (web forms, chat, CRM exports). A
carriage return or line feed in a title ends up in an email `Subject` header, U+2028 breaks
JavaScript and log viewers, bidirectional overrides make text read differently from what it
is (`Trojan Source`), and NUL truncates C strings. The models of `contracts.cases` apply these
two cleaners to every text field, so what is stored, published and shown is already clean:

- `single_line(text)` for titles, names, tags and references: every control character, line
  or paragraph separator becomes a space, invisible formatting controls (bidi overrides, BOM)
  are removed, and runs of spaces collapse.
- `multi_line(text)` for descriptions: the same, except that line breaks (CR LF, CR, U+2028,
  U+2029, NEL) become `\\n` and tabs stay.

Zero-width joiners are kept (they build emoji and are harmless in every channel).
"""

from __future__ import annotations

import re
import unicodedata

#: Format characters removed outright: bidi embeddings, overrides and isolates, the
#: byte-order mark and the invisible separators; not ZWJ/ZWNJ (U+200C, U+200D).
_INVISIBLE = dict.fromkeys(
    [0x200B, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2060, 0x2070), 0xFEFF]
)
_BREAKS = re.compile("\r\n|[\r\n\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")
_SPACES = re.compile(r" {2,}")


def _drop_controls(text: str, keep: str) -> str:
    out = []
    for ch in text.translate(_INVISIBLE):
        category = unicodedata.category(ch)
        if ch in keep:
            out.append(ch)
        elif category in ("Cc", "Zl", "Zp"):
            out.append(" ")
        elif category != "Cs":  # a lone surrogate cannot be encoded anywhere
            out.append(ch)
    return "".join(out)


def single_line(text: str) -> str:
    """`text` on one line, without control or invisible formatting characters."""
    return _SPACES.sub(" ", _drop_controls(text, keep="")).strip()


def multi_line(text: str) -> str:
    """`text` with line breaks as `\\n` and tabs kept, without any other control character."""
    lines = _BREAKS.sub("\n", text)
    return _drop_controls(lines, keep="\n\t").strip()
