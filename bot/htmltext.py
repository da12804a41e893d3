"""HTML -> readable plain text, with the standard library only.

Mail that has only an HTML part still has to be read by the classifier and quoted in a reply. A full
browser-grade converter is not needed: we keep the words, turn block elements into line breaks, drop
scripts, styles and comments, and never raise on broken markup (unclosed tags, stray ``<``).
"""

from __future__ import annotations

import html
import re

_BLOCK = frozenset(
    "address article aside blockquote br dd div dl dt fieldset figcaption figure footer form h1 h2 h3 h4 h5 h6 "
    "header hr li main nav ol p pre section table tbody td tfoot th thead tr ul".split()
)
_SKIP = frozenset(("script", "style", "head", "title", "template", "noscript"))
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")
_BLANKS = re.compile(r"\n\s*\n\s*\n+")


_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9:-]*)")
_ALT = re.compile(r"""\balt\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""", re.IGNORECASE)
_ENDS: dict[str, re.Pattern[str]] = {name: re.compile(rf"</{name}\s*>", re.IGNORECASE) for name in _SKIP}


def html_to_text(markup: str) -> str:
    """Return the visible text of ``markup`` with paragraphs kept as blank-line separated blocks.

    One pass from left to right, each search starting where the last one ended, so the time is linear in the
    length whatever the markup: the standard library's ``html.parser`` takes quadratic time on unclosed
    constructs (40,000 characters of ``<a`` and a newline: 13 s; a 400 KB body: minutes), which anyone can
    send. A ``<`` that starts no tag, or has no ``>`` after it, is text; an unclosed comment or script runs
    to the end, as in a browser.
    """
    out: list[str] = []
    i, n, gt = 0, len(markup), -1
    while i < n:
        lt = markup.find("<", i)
        if lt < 0:
            out.append(markup[i:])
            break
        out.append(markup[i:lt])
        if markup.startswith("<!--", lt):
            end = markup.find("-->", lt + 4)
            i = n if end < 0 else end + 3
            continue
        if gt < lt:
            gt = markup.find(">", lt)  # (the next '>' is looked for again only once this one is passed)
        if gt < 0:
            out.append(markup[lt:])
            break
        tag = _TAG.match(markup, lt)
        if tag is None and not markup.startswith(("<!", "<?"), lt):
            out.append("<")  # a stray '<' ("a < b") is text
            i = lt + 1
            continue
        i = gt + 1
        if tag is None:
            continue  # <!DOCTYPE ...>, <?xml ...?>
        closing, name = tag.group(1), tag.group(2).lower()
        if name in _SKIP and not closing:
            end_tag = _ENDS[name].search(markup, i)
            i = n if end_tag is None else end_tag.end()
            continue
        if name in _BLOCK:
            out.append("\n")
        if name == "li" and not closing:
            out.append("- ")
        elif name == "img":
            alt = _ALT.search(markup, lt, gt)
            if alt:
                out.append(f" {html.unescape(next(g for g in alt.groups() if g is not None))} ")
    text = html.unescape("".join(out))
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANKS.sub("\n\n", "\n".join(lines)).strip()
