"""Telegram's `parse_mode` parsers: marked-up text -> (plain text, entities), or a refusal.

Pure functions, modelled on how Telegram itself parses (tdlib's MessageEntity.cpp), so the
sandbox accepts and refuses what the real API does, with the same error texts:

    parse_text("<b>CPU</b> &lt; 90%", "HTML")
    -> ("CPU < 90%", [{"type": "bold", "offset": 0, "length": 3}])
    parse_text("<b>open", "HTML")
    -> EntityParseError("Can't find end tag corresponding to start tag \"b\"")

HTML: only the tags Telegram documents (b strong i em u ins s strike del span.tg-spoiler
tg-spoiler a code pre blockquote tg-emoji tg-time); entities &lt; &gt; &amp; &quot; and numeric
ones; a '&' that starts no known entity stays literal (as Telegram's parser does). Byte offsets
in errors are UTF-8 offsets into the raw text, entity offsets/lengths are UTF-16 code units
(as in the Bot API's MessageEntity).
"""

from dataclasses import dataclass

PARSE_MODES = {"html": "HTML", "markdown": "Markdown", "markdownv2": "MarkdownV2"}

HTML_TAG_ENTITIES = {
    "b": "bold", "strong": "bold",
    "i": "italic", "em": "italic",
    "u": "underline", "ins": "underline",
    "s": "strikethrough", "strike": "strikethrough", "del": "strikethrough",
    "tg-spoiler": "spoiler", "span": "spoiler",
    "a": "text_link",
    "code": "code", "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
    "tg-time": "date_time",
}
_SPACE = " \t\r\n\v\0"
_TRIM = " \t\r\n\v\f"
_MD2_RESERVED = "_*[]()~`>#+-=|{}.!"
_MD2_TYPE_NAMES = {  # how tdlib names entity types in "Can't find end of ... entity"
    "bold": "Bold", "italic": "Italic", "underline": "Underline",
    "strikethrough": "Strikethrough", "spoiler": "Spoiler", "code": "Code", "pre": "Pre",
    "pre_code": "PreCode", "text_link": "TextUrl", "custom_emoji": "CustomEmoji",
}


class EntityParseError(ValueError):
    """The text's markup is invalid; str() is Telegram's own wording."""


def _u16(s: str) -> int:
    """Length of `s` in UTF-16 code units (the unit of Bot API entity offsets)."""
    return len(s.encode("utf-16-le")) // 2


def _byte_offset(text: str, index: int) -> int:
    """UTF-8 byte offset of text[index] (the unit of Telegram's error messages)."""
    return len(text[:index].encode("utf-8"))


def _at(text: str, i: int) -> str:
    """text[i], or '' past the end (tdlib reads a NUL there)."""
    return text[i] if i < len(text) else ""


@dataclass
class _Open:
    """An entity whose start was seen and whose end is awaited."""

    kind: str           # entity type (or HTML tag name while parsing HTML)
    start: int          # UTF-16 offset into the output text
    begin_pos: int      # index into the input, for error messages
    argument: str = ""  # url, language, emoji id...


class _Output:
    """The plain text being built, with its UTF-16 length and the finished entities."""

    def __init__(self):
        self.parts: list[str] = []
        self.offset = 0
        self.entities: list[dict] = []

    def add(self, s: str) -> None:
        self.parts.append(s)
        self.offset += _u16(s)

    def text(self) -> str:
        return "".join(self.parts)

    def since(self, start_u16: int) -> str:
        """The output text from UTF-16 offset `start_u16` to now."""
        encoded = self.text().encode("utf-16-le")
        return encoded[start_u16 * 2:].decode("utf-16-le")

    def entity(self, kind: str, start: int, **extra) -> None:
        """Close an entity running from `start` to here; Telegram drops empty ones too."""
        if self.offset > start:
            self.entities.append({"type": kind, "offset": start,
                                  "length": self.offset - start, **extra})


# ---------------------------------------------------------------------------------------- HTML

def _decode_html_entity(text: str, pos: int) -> tuple[str, int] | None:
    """(character, next index) for an entity at text[pos] == '&', or None to keep '&' literal."""
    end = pos + 1
    value = 0
    if _at(text, end) == "#":
        end += 1
        if _at(text, end) == "x":
            end += 1
            while _at(text, end) and _at(text, end) in "0123456789abcdefABCDEF":
                value = value * 16 + int(text[end], 16)
                end += 1
                if value >= 0x10FFFF:
                    return None
        else:
            while _at(text, end).isdigit() and _at(text, end).isascii():
                value = value * 10 + int(text[end])
                end += 1
                if value >= 0x10FFFF:
                    return None
        if value == 0 or end - pos >= 10 or 0xD800 <= value <= 0xDFFF:
            return None
        char = chr(value)
    else:
        while _at(text, end).isascii() and _at(text, end).isalpha():
            end += 1
        char = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}.get(text[pos + 1:end])
        if char is None:
            return None
    if _at(text, end) == ";":
        end += 1
    return char, end


def parse_html(text: str) -> tuple[str, list[dict]]:
    """Parse Telegram-HTML; raise EntityParseError with Telegram's message on bad markup."""
    out = _Output()
    stack: list[_Open] = []
    n = len(text)
    i = 0

    def fail(message: str):
        raise EntityParseError(message)

    while i < n:
        c = text[i]
        if c == "&":
            decoded = _decode_html_entity(text, i)
            if decoded is not None:
                out.add(decoded[0])
                i = decoded[1]
                continue
        if c != "<":
            out.add(c)
            i += 1
            continue

        begin = i
        i += 1
        if _at(text, i) != "/":
            # a start tag: <name attr="value" ...>
            while i < n and text[i] not in _SPACE and text[i] != ">":
                i += 1
            if i >= n:
                fail(f"Unclosed start tag at byte offset {_byte_offset(text, begin)}")
            tag = text[begin + 1:i].lower()
            if tag not in HTML_TAG_ENTITIES:
                fail(f'Unsupported start tag "{tag}" at byte offset {_byte_offset(text, begin)}')
            attributes, expandable, i = _parse_attributes(text, i, tag, begin)
            stack.append(_Open(tag, out.offset, begin, _tag_argument(tag, attributes, expandable)))
            if tag == "span" and stack[-1].argument != "spoiler":
                fail(f'Tag "span" must have class "tg-spoiler" at byte offset '
                     f"{_byte_offset(text, begin)}")
            i += 1  # past '>'
            continue

        # an end tag: </name> (or </>, which closes the innermost tag)
        if not stack:
            fail(f"Unexpected end tag at byte offset {_byte_offset(text, begin)}")
        i += 1
        while i < n and text[i] not in _SPACE and text[i] != ">":
            i += 1
        end_name = text[begin + 2:i].lower()
        while i < n and text[i] in _SPACE:
            i += 1
        if i >= n or text[i] != ">":
            fail(f"Unclosed end tag at byte offset {_byte_offset(text, begin)}")
        opened = stack.pop()
        if end_name and end_name != opened.kind:
            fail(f'Unmatched end tag at byte offset {_byte_offset(text, begin)}, '
                 f'expected "</{opened.kind}>", found "</{end_name}>"')
        _close_html_entity(out, opened, stack)
        i += 1

    if stack:
        fail(f'Can\'t find end tag corresponding to start tag "{stack[-1].kind}"')
    return out.text(), out.entities


def _parse_attributes(text: str, i: int, tag: str, begin: int) -> tuple[dict, bool, int]:
    """Read attributes up to the '>' closing a start tag; return them and the index of '>'."""
    n = len(text)
    attributes: dict[str, str] = {}
    expandable = False
    where = _byte_offset(text, begin)
    while _at(text, i) != ">":
        while i < n and text[i] in _SPACE:
            i += 1
        if i >= n:
            raise EntityParseError(f'Unclosed start tag "{tag}" at byte offset {where}')
        if text[i] == ">":
            break
        name_begin = i
        while i < n and text[i] not in _SPACE and text[i] not in "=>":
            i += 1
        name = text[name_begin:i].lower()
        if not name:
            raise EntityParseError(f'Empty attribute name in the tag "{tag}" at byte offset '
                                   f"{where}")
        while i < n and text[i] in _SPACE:
            i += 1
        if _at(text, i) != "=":
            if tag == "blockquote" and name == "expandable":
                expandable = True
                continue
            raise EntityParseError(f"Expected equal sign in declaration of an attribute of the tag "
                                   f'"{tag}" at byte offset {where}')
        i += 1
        while i < n and text[i] in _SPACE:
            i += 1
        if i >= n:
            raise EntityParseError(f'Unclosed start tag "{tag}" at byte offset {where}')
        if text[i] not in "'\"":
            # a name token: letters, digits, periods, hyphens
            token_begin = i
            while i < n and (text[i].isascii() and text[i].isalnum() or text[i] in ".-"):
                i += 1
            value = text[token_begin:i].lower()
            if i >= n or (text[i] not in _SPACE and text[i] != ">"):
                raise EntityParseError(f"Unexpected end of name token at byte offset "
                                       f"{_byte_offset(text, token_begin)}")
        else:
            quote = text[i]
            i += 1
            chars = []
            while i < n and text[i] != quote:
                if text[i] == "&":
                    decoded = _decode_html_entity(text, i)
                    if decoded is not None:
                        chars.append(decoded[0])
                        i = decoded[1]
                        continue
                chars.append(text[i])
                i += 1
            if i < n:
                i += 1  # past the closing quote
            if i >= n:
                raise EntityParseError(f"Unclosed start tag at byte offset {where}")
            value = "".join(chars)
        attributes[name] = value
    return attributes, expandable, i


def _tag_argument(tag: str, attributes: dict, expandable: bool) -> str:
    """The one attribute each tag cares about (others are ignored, as Telegram does)."""
    if tag == "a":
        return attributes.get("href", "")
    if tag == "code":
        cls = attributes.get("class", "")
        return cls[len("language-"):] if cls.startswith("language-") else ""
    if tag == "span":
        cls = attributes.get("class", "")
        return cls[len("tg-"):] if cls.startswith("tg-") else ""
    if tag == "tg-emoji":
        return attributes.get("emoji-id", "")
    if tag == "tg-time":
        return attributes.get("unix", "")
    if tag == "blockquote":
        return "expandable" if expandable else ""
    return ""


def _close_html_entity(out: _Output, opened: _Open, stack: list[_Open]) -> None:
    """Turn a closed tag into its entity."""
    kind = HTML_TAG_ENTITIES[opened.kind]
    if opened.kind == "a":
        url = opened.argument or out.since(opened.start)
        out.entity("text_link", opened.start, url=url)
    elif opened.kind == "code" and opened.argument and stack and stack[-1].kind == "pre" \
            and stack[-1].start == opened.start:
        stack[-1].argument = opened.argument  # <pre><code class="language-x">: pre with language
    elif opened.kind == "pre" and opened.argument:
        out.entity("pre", opened.start, language=opened.argument)
    elif opened.kind == "blockquote" and opened.argument == "expandable":
        out.entity("expandable_blockquote", opened.start)
    elif opened.kind == "tg-emoji":
        if opened.argument:
            out.entity("custom_emoji", opened.start, custom_emoji_id=opened.argument)
    elif opened.kind == "tg-time":
        if opened.argument.isdigit():
            out.entity("date_time", opened.start, unix_time=int(opened.argument))
    else:
        out.entity(kind, opened.start)


# ---------------------------------------------------------------------------------- MarkdownV2

def parse_markdown_v2(text: str) -> tuple[str, list[dict]]:
    """Parse MarkdownV2; reserved characters outside entities must be escaped with '\\'."""
    out = _Output()
    stack: list[_Open] = []
    n = len(text)
    quote_start: int | None = None  # UTF-16 offset where the current '>' block started
    i = 0
    while i < n:
        c = text[i]
        at_line_start = i == 0 or text[i - 1] == "\n"
        if at_line_start and quote_start is not None and c != ">":
            _end_quote(out, quote_start)
            quote_start = None
        if c == "\\" and 0 < ord(_at(text, i + 1) or "\0") <= 126:
            out.add(text[i + 1])
            i += 2
            continue
        if c == ">" and at_line_start and not stack:
            if quote_start is None:
                quote_start = out.offset
            i += 1
            continue

        inside_code = bool(stack) and stack[-1].kind in ("code", "pre", "pre_code")
        reserved = "`" if inside_code else _MD2_RESERVED
        if c not in reserved:
            out.add(c)
            i += 1
            continue

        top = stack[-1].kind if stack else None
        closes = {
            "bold": c == "*",
            "italic": c == "_" and _at(text, i + 1) != "_",
            "underline": c == "_" and _at(text, i + 1) == "_",
            "strikethrough": c == "~",
            "spoiler": c == "|" and _at(text, i + 1) == "|",
            "code": c == "`",
            "pre": text.startswith("```", i),
            "pre_code": text.startswith("```", i),
            "text_link": c == "]",
            "custom_emoji": c == "]",
        }.get(top, False)

        if not closes:
            i = _open_md2_entity(text, i, out, stack)
            continue

        opened = stack.pop()
        if opened.kind in ("underline", "spoiler"):
            i += 2
        elif opened.kind in ("pre", "pre_code"):
            i += 3
        elif opened.kind in ("text_link", "custom_emoji"):
            i, url = _md2_link_target(text, i, out, opened)
            if opened.kind == "text_link":
                out.entity("text_link", opened.start, url=url)
            else:
                emoji_id = url.partition("id=")[2]
                out.entity("custom_emoji", opened.start, custom_emoji_id=emoji_id)
            continue
        else:
            i += 1
        if opened.kind == "pre_code":
            out.entity("pre", opened.start, language=opened.argument)
        else:
            out.entity(opened.kind, opened.start)

    if stack:
        opened = stack[-1]
        raise EntityParseError(f"Can't find end of {_MD2_TYPE_NAMES[opened.kind]} entity at byte "
                               f"offset {_byte_offset(text, opened.begin_pos)}")
    if quote_start is not None:
        _end_quote(out, quote_start)
    return out.text(), out.entities


def _end_quote(out: _Output, start: int) -> None:
    """Close a '>' block quotation before the newline that ended it."""
    text = out.text()
    end = out.offset - (1 if text.endswith("\n") else 0)
    if end > start:
        out.entities.append({"type": "blockquote", "offset": start, "length": end - start})


def _reserved(char: str) -> EntityParseError:
    return EntityParseError(f"Character '{char}' is reserved and must be escaped with the "
                            f"preceding '\\'")


def _open_md2_entity(text: str, i: int, out: _Output, stack: list[_Open]) -> int:
    """Start the entity whose marker is at text[i]; return the index after the marker."""
    c = text[i]
    begin = i
    if c == "_" and _at(text, i + 1) == "_":
        stack.append(_Open("underline", out.offset, begin))
        return i + 2
    simple = {"_": "italic", "*": "bold", "~": "strikethrough", "[": "text_link"}
    if c in simple:
        stack.append(_Open(simple[c], out.offset, begin))
        return i + 1
    if c == "|" and _at(text, i + 1) == "|":
        stack.append(_Open("spoiler", out.offset, begin))
        return i + 2
    if c == "!" and _at(text, i + 1) == "[":
        stack.append(_Open("custom_emoji", out.offset, begin))
        return i + 2
    if c == "`":
        if not text.startswith("```", i):
            stack.append(_Open("code", out.offset, begin))
            return i + 1
        i += 3
        kind, language = "pre", ""
        language_end = i
        while language_end < len(text) and text[language_end] not in _SPACE + "`":
            language_end += 1
        if i != language_end and language_end < len(text) and text[language_end] != "`":
            kind, language = "pre_code", text[i:language_end]
            i = language_end
        i = _skip_one_newline(text, i)
        stack.append(_Open(kind, out.offset, begin, language))
        return i
    raise _reserved(c)


def _skip_one_newline(text: str, i: int) -> int:
    """Skip one line break (\\n, \\r, \\r\\n or \\n\\r) at text[i] after a code fence."""
    if _at(text, i) in ("\n", "\r"):
        if _at(text, i + 1) in ("\n", "\r") and text[i] != text[i + 1]:
            return i + 2
        return i + 1
    return i


def _md2_link_target(text: str, i: int, out: _Output, opened: _Open) -> tuple[int, str]:
    """At the ']' closing a link text: read '(url)' (or use the text); return (next index, url)."""
    if _at(text, i + 1) != "(":
        return i + 1, out.since(opened.start)
    i += 2
    url_begin = i
    chars = []
    while i < len(text) and text[i] != ")":
        if text[i] == "\\" and 0 < ord(_at(text, i + 1) or "\0") <= 126:
            chars.append(text[i + 1])
            i += 2
            continue
        chars.append(text[i])
        i += 1
    if i >= len(text):
        raise EntityParseError(f"Can't find end of a URL at byte offset "
                               f"{_byte_offset(text, url_begin)}")
    return i + 1, "".join(chars)


# ------------------------------------------------------------------------------ Markdown (legacy)

def parse_markdown(text: str) -> tuple[str, list[dict]]:
    """Parse legacy Markdown: *bold* _italic_ `code` ```pre``` [text](url), no nesting."""
    out = _Output()
    n = len(text)
    i = 0
    while i < n:
        c = text[i]
        if c == "\\" and _at(text, i + 1) in ("_", "*", "`", "["):
            out.add(text[i + 1])
            i += 2
            continue
        if c not in "_*`[":
            out.add(c)
            i += 1
            continue

        begin = i
        end_char = "]" if c == "[" else c
        is_pre = False
        language = ""
        i += 1
        if c == "`" and text.startswith("``", i):
            i += 2
            is_pre = True
            language_end = i
            while language_end < n and text[language_end] not in _SPACE + "`":
                language_end += 1
            if i != language_end and language_end < n and text[language_end] != "`":
                language = text[i:language_end]
                i = language_end
            i = _skip_one_newline(text, i)

        start = out.offset
        while i < n and (text[i] != end_char or (is_pre and not text.startswith("```", i))):
            out.add(text[i])
            i += 1
        if i >= n:
            raise EntityParseError(f"Can't find end of the entity starting at byte offset "
                                   f"{_byte_offset(text, begin)}")
        if c == "[":
            if _at(text, i + 1) == "(":
                close = text.find(")", i + 2)
                url = text[i + 2:close if close != -1 else n]
                i = close if close != -1 else n - 1
            else:
                url = out.since(start)
            out.entity("text_link", start, url=url)
        elif c == "`":
            if is_pre:
                out.entity("pre", start, **({"language": language} if language else {}))
                i += 2
            else:
                out.entity("code", start)
        else:
            out.entity("italic" if c == "_" else "bold", start)
        i += 1
    return out.text(), out.entities


# ----------------------------------------------------------------------------------- the entry

def normalize_parse_mode(raw: str | None) -> str | None:
    """'HTML' / 'Markdown' / 'MarkdownV2' (case-insensitive, like Telegram), None for plain text.

    Raises ValueError for any other non-empty value.
    """
    if raw is None or raw.lower() in ("", "none"):
        return None
    mode = PARSE_MODES.get(raw.lower())
    if mode is None:
        raise ValueError(raw)
    return mode


def _trim(text: str, entities: list[dict]) -> tuple[str, list[dict]]:
    """Strip leading/trailing whitespace as Telegram does, keeping entities aligned."""
    stripped = text.strip(_TRIM)
    if stripped == text:
        return text, entities
    shift = _u16(text[:len(text) - len(text.lstrip(_TRIM))])
    limit = _u16(stripped)
    kept = []
    for entity in entities:
        start = max(entity["offset"] - shift, 0)
        end = min(entity["offset"] + entity["length"] - shift, limit)
        if end > start:
            kept.append({**entity, "offset": start, "length": end - start})
    return stripped, kept


def parse_text(text: str, parse_mode: str | None) -> tuple[str, list[dict]]:
    """The message text and entities Telegram would store for `text` sent with `parse_mode`.

    `parse_mode` must already be normalized (see normalize_parse_mode). The result is trimmed.
    """
    parser = {"HTML": parse_html, "MarkdownV2": parse_markdown_v2,
              "Markdown": parse_markdown}.get(parse_mode)
    plain, entities = parser(text) if parser else (text, [])
    return _trim(plain, entities)
