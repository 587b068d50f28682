"""Show a stored message the way a Telegram client would: text + entities -> safe HTML.

Every character of the text is escaped; markup comes only from the entity list and is a fixed
set of tags. Links keep only http(s)/tg/mailto targets, so a message cannot smuggle
`javascript:` into the page. Anything odd (overlapping entities) falls back to plain text.
"""

from urllib.parse import urlsplit

from markupsafe import Markup, escape

_TAGS = {
    "bold": ("<b>", "</b>"),
    "italic": ("<i>", "</i>"),
    "underline": ("<u>", "</u>"),
    "strikethrough": ("<s>", "</s>"),
    "spoiler": ('<span class="spoiler">', "</span>"),
    "code": ("<code>", "</code>"),
    "pre": ("<pre>", "</pre>"),
    "blockquote": ("<blockquote>", "</blockquote>"),
    "expandable_blockquote": ("<blockquote>", "</blockquote>"),
}
SAFE_SCHEMES = ("http", "https", "tg", "mailto")


def _py_index_by_u16(text: str) -> dict[int, int]:
    """Map each UTF-16 offset that starts a character to its Python string index."""
    mapping, u16 = {}, 0
    for index, char in enumerate(text):
        mapping[u16] = index
        u16 += 2 if ord(char) > 0xFFFF else 1
    mapping[u16] = len(text)
    return mapping


def _open_tag(entity: dict) -> str:
    if entity["type"] == "text_link":
        url = entity.get("url", "")
        if urlsplit(url).scheme.lower() in SAFE_SCHEMES:
            return f'<a href="{escape(url)}" rel="noopener noreferrer nofollow">'
        return "<a>"
    return _TAGS.get(entity["type"], ("<span>", "</span>"))[0]


def _close_tag(entity: dict) -> str:
    if entity["type"] == "text_link":
        return "</a>"
    return _TAGS.get(entity["type"], ("<span>", "</span>"))[1]


def render_message(text: str, entities: list[dict] | None) -> Markup:
    """The message as HTML: escaped text inside the entities' tags."""
    if not entities:
        return escape(text)
    index = _py_index_by_u16(text)
    opens: dict[int, list[dict]] = {}
    closes: dict[int, list[dict]] = {}
    for entity in sorted(entities, key=lambda e: (e["offset"], -e["length"])):
        start = index.get(entity["offset"])
        end = index.get(entity["offset"] + entity["length"])
        if start is None or end is None or end <= start:
            return escape(text)
        opens.setdefault(start, []).append(entity)
        closes.setdefault(end, []).insert(0, entity)
    out, stack = [], []
    for i in range(len(text) + 1):
        for entity in closes.get(i, []):
            if not stack or stack[-1] is not entity:
                return escape(text)  # entities overlap: show the plain text
            stack.pop()
            out.append(_close_tag(entity))
        if i == len(text):
            break
        for entity in opens.get(i, []):
            stack.append(entity)
            out.append(_open_tag(entity))
        out.append(str(escape(text[i])))
    return Markup("".join(out))  # noqa: S704 - built from escaped text and fixed tags only
