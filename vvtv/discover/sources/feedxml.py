"""Feed XML → the items it holds, read safely and leniently (RSS 0.9x/1.0/2.0, Atom 0.3/1.0).

Bytes are decoded first (``decode``): a byte order mark, then the HTTP ``charset``, then the
XML declaration, then UTF-8; every encoding Python knows (Shift_JIS, EUC-KR, GB2312 read as
GB18030, Big5, ...) plus a few IANA names it lacks. An encoding nobody knows fails the
source, naming the label and where it came from. Bytes that do not decode in the declared
encoding fall back to UTF-8, then windows-1252 (as browsers and feed readers do).

Then expat reads the text with namespace processing off, so a prefix nobody declared
(``<media:content>`` without ``xmlns:media``) is not fatal: prefixes are resolved here,
from the declarations in scope, else from the prefix's usual meaning. Namespace URIs match
case-insensitively and with or without a trailing slash, so both iTunes spellings (Apple's
historical ``http://www.itunes.com/DTDs/Podcast-1.0.dtd`` too) and both Media RSS spellings
are read.

Lenient only where it is safe, before expat sees the text: whitespace (or a comment) before
the XML declaration, HTML named entities (``&nbsp;`` becomes ``&#160;``), a bare ``&``, an
unknown entity name (kept as text), ``&#X41;`` (XML wants a lowercase x), characters XML
forbids (dropped), comments (dropped: ``--`` inside one is common), a DOCTYPE that
declares no entities. Never lenient about what can hurt: an entity declaration of any kind (billion
laughs, quadratic blow-up, external entities) refuses the whole document, nothing external
is ever fetched, and memory stays proportional to the document: only the parts of items
that matter are kept, each text is capped, and so is the number of items and elements.
"""

from __future__ import annotations

import codecs
import html.entities
import re
from collections.abc import Iterator
from urllib.parse import urljoin
from xml.parsers import expat

import attrs

#: Past this many items a feed is read no further (the rest are reported, not kept).
MAX_ITEMS = 10_000
#: Elements kept inside one item (titles, links, media renditions, ...); the rest are ignored.
MAX_ITEM_ELEMENTS = 500
#: Characters kept of one element's text (a title, a category): more is cut.
MAX_TEXT = 8192
#: Characters kept of one attribute value (a URL): more is cut, and a cut URL is refused.
MAX_ATTRIBUTE = 8192
#: Elements nested deeper than this end the reading (the items before are kept): expat
#: keeps every open tag, so 500,000 nested tags would cost it hundreds of megabytes.
MAX_DEPTH = 256


class FeedXMLError(ValueError):
    """The document cannot be read as a feed; the message says why, in an operator's words."""


class UnsafeXML(FeedXMLError):
    """The document asks for something a feed never needs and an attacker does."""


class _TooDeep(Exception):
    """Raised from expat's handler to stop reading a document nested beyond ``MAX_DEPTH``."""


# --- namespaces ------------------------------------------------------------------------

# Every spelling a namespace is met with in the wild → one short key. Matched lowercased and
# without a trailing slash. RSS and Atom in all their versions share the key "" (their items
# and entries are read the same way), as feed readers do.
_NAMESPACES = {
    "": "",
    "http://backend.userland.com/rss": "",
    "http://backend.userland.com/rss2": "",
    "http://blogs.law.harvard.edu/tech/rss": "",
    "http://purl.org/rss/1.0": "",
    "http://my.netscape.com/rdf/simple/0.9": "",
    "http://purl.org/rss/1.0/modules/rss091#": "",
    "http://www.w3.org/2005/atom": "",
    "http://purl.org/atom/ns#": "",
    # Atom's drafts before 0.3 (Pie, Echo), still met in archives.
    "http://purl.org/pie": "",
    "http://purl.org/echo": "",
    "http://example.com/newformat#": "",
    "http://example.com/necho": "",
    "uri/of/echo/namespace#": "",
    "http://search.yahoo.com/mrss": "media",
    "http://www.itunes.com/dtds/podcast-1.0.dtd": "itunes",
    "http://www.w3.org/1999/02/22-rdf-syntax-ns#": "rdf",
    "http://purl.oclc.org/net/rss_2.0/enc#": "enc",
    "http://purl.org/dc/elements/1.1": "dc",
    "http://purl.org/dc/terms": "dcterms",
    "http://www.w3.org/xml/1998/namespace": "xml",
}
# A prefix used without a declaration means what it usually means.
_USUAL_PREFIXES = {
    "media": "media",
    "itunes": "itunes",
    "rdf": "rdf",
    "enc": "enc",
    "dc": "dc",
    "dcterms": "dcterms",
    "atom": "",
    "xml": "xml",
}
# Root elements by format, for the error message when a document is something else.
_FORMATS = {("", "rss"): "RSS", ("rdf", "rdf"): "RSS 1.0 (RDF)", ("", "feed"): "Atom"}


def _namespace_key(uri: str) -> str:
    plain = uri.strip().lower().rstrip("/")
    if "backend.userland.com/rss" in plain:
        return ""
    return _NAMESPACES.get(plain, "{" + plain + "}")


# --- the items ---------------------------------------------------------------------------


@attrs.define(slots=True, eq=False)
class Element:
    """An element of an item that matters: its namespace key and lowercase local name, its
    attributes (lowercase names; a namespaced one as ``"key:name"``), its text (all text
    inside it, markup dropped), the base URL in force there, and, for an item or a
    ``media:group``, the elements inside it that matter."""

    ns: str
    name: str
    attributes: dict[str, str]
    base: str
    text_parts: list[str] = attrs.Factory(list)
    text_size: int = 0
    children: list[Element] = attrs.Factory(list)
    line: int = 0
    first: dict[tuple[str, str], Element] | None = None

    @property
    def text(self) -> str:
        return "".join(self.text_parts).strip()

    def find_all(self, ns: str, name: str) -> Iterator[Element]:
        return (c for c in self.children if c.ns == ns and c.name == name)

    def find(self, ns: str, name: str) -> Element | None:
        """The first child ``ns:name`` (from an index built on first use: an item is
        asked for a dozen names)."""
        if self.first is None:
            self.first = {}
            for child in self.children:
                self.first.setdefault((child.ns, child.name), child)
        return self.first.get((ns, name))


@attrs.frozen
class Document:
    """What a feed holds: its format, its items in order, how many items were past
    ``MAX_ITEMS``, and, for a document broken after some items, what broke it (the items
    before it are kept)."""

    format: str
    items: list[Element]
    skipped_items: int = 0
    encoding: str = ""
    broken: str | None = None


# Inside an item, these keep their children (everything else is read as one text).
_CONTAINERS = frozenset({("media", "group")})
# Inside an item, only these are kept; the rest (descriptions, HTML content, extensions) is
# skipped with everything inside it.
_WANTED = frozenset(
    {
        ("", "title"),
        ("", "link"),
        ("", "enclosure"),
        ("", "category"),
        ("", "pubdate"),
        ("", "published"),
        ("", "updated"),
        ("", "issued"),
        ("", "modified"),
        ("", "created"),
        ("", "guid"),
        ("", "id"),
        ("media", "content"),
        ("media", "group"),
        ("media", "title"),
        ("media", "keywords"),
        ("media", "category"),
        ("itunes", "duration"),
        ("itunes", "keywords"),
        ("enc", "enclosure"),
        ("dc", "title"),
        ("dc", "subject"),
        ("dc", "date"),
        ("dcterms", "created"),
        ("dcterms", "issued"),
        ("dcterms", "modified"),
    }
)
_ITEMS = frozenset({("", "item"), ("", "entry")})


class _Reader:
    """expat's handlers: tracks namespaces and xml:base, keeps the items' elements that
    matter, refuses every kind of entity declaration."""

    def __init__(self, base_url: str) -> None:
        self.root: tuple[str, str] | None = None
        self.scopes: list[dict[str, str]] = [dict(_USUAL_PREFIXES)]
        self.bases: list[str] = [base_url]
        self.items: list[Element] = []
        self.skipped = 0
        self.item: Element | None = None
        self.item_elements = 0
        self.stack: list[Element | None] = []  # kept elements inside the item (None: ignored)
        self.depth = 0  # of the whole document
        self.item_depth = 0  # where the current item opened
        self.parser: expat.XMLParserType | None = None

    # xml:base and namespaces -----------------------------------------------------------

    def _resolve(self, qname: str, scope: dict[str, str], *, element: bool) -> tuple[str, str]:
        prefix, _, local = qname.rpartition(":")
        if not prefix:
            return (scope.get("", "") if element else "", local.lower())
        return (scope.get(prefix, prefix + "?"), local.lower())

    def start(self, qname: str, raw_attrs: dict[str, str]) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _TooDeep(f"elements nested more than {MAX_DEPTH} deep at line {self._line()}")
        scope = self.scopes[-1]
        base = self.bases[-1]
        attributes: dict[str, str] = {}
        if raw_attrs:  # most elements have none: the fast path skips all of this
            if any(k == "xmlns" or k.startswith("xmlns:") for k in raw_attrs):
                scope = dict(scope)
                for k, v in raw_attrs.items():
                    if k == "xmlns":
                        scope[""] = _namespace_key(v)
                    elif k.startswith("xmlns:"):
                        scope[k[6:]] = _namespace_key(v)
            for k, v in raw_attrs.items():
                if k == "xmlns" or k.startswith("xmlns:"):
                    continue
                ns, local = self._resolve(k, scope, element=False)
                attributes[f"{ns}:{local}" if ns else local] = v[:MAX_ATTRIBUTE]
            xml_base = attributes.get("xml:base")
            if xml_base is not None:
                base = _join(base, xml_base)
        self.scopes.append(scope)
        self.bases.append(base)
        key = self._resolve(qname, scope, element=True)
        if self.root is None:
            self.root = key
        if self.item is None:
            if key in _ITEMS:
                self._open_item(key, attributes, base)
            return
        parent = self.stack[-1]
        kept: Element | None = None
        if (
            parent is not None
            and (parent is self.item or (parent.ns, parent.name) in _CONTAINERS)
            and key in _WANTED
            and self.item_elements < MAX_ITEM_ELEMENTS
        ):
            kept = Element(key[0], key[1], attributes, base, line=self._line())
            parent.children.append(kept)
            self.item_elements += 1
        elif parent is not None and (parent.ns, parent.name) not in _CONTAINERS:
            kept = parent  # markup inside a kept element: its text still counts
            if parent is self.item:
                kept = None
        self.stack.append(kept)

    def _open_item(self, key: tuple[str, str], attributes: dict[str, str], base: str) -> None:
        if len(self.items) >= MAX_ITEMS:
            self.skipped += 1
            self.item = Element(key[0], key[1], {}, base)  # read and thrown away
            self.item.line = -1
        else:
            self.item = Element(key[0], key[1], attributes, base, line=self._line())
        self.item_elements = 0
        self.item_depth = self.depth
        self.stack = [self.item]

    def _line(self) -> int:
        return self.parser.CurrentLineNumber if self.parser is not None else 0

    def end(self, qname: str) -> None:
        if self.item is not None:
            if self.depth == self.item_depth:
                if self.item.line != -1:
                    self.items.append(self.item)
                self.item = None
                self.stack = []
            else:
                self.stack.pop()
        self.scopes.pop()
        self.bases.pop()
        self.depth -= 1

    def text(self, data: str) -> None:
        if self.item is None or not self.stack:
            return
        holder = self.stack[-1]
        if holder is None or holder is self.item or holder.text_size >= MAX_TEXT:
            return
        piece = data[: MAX_TEXT - holder.text_size]
        holder.text_parts.append(piece)
        holder.text_size += len(piece)

    # what a feed never needs --------------------------------------------------------------

    @staticmethod
    def entity_declared(name: str, *_: object) -> None:
        raise UnsafeXML(f"entity declarations are not allowed (entity {name!r})")

    @staticmethod
    def external_reference(*_: object) -> int:
        raise UnsafeXML("external references are not allowed")


def _join(base: str, ref: str) -> str:
    try:
        return urljoin(base, ref.strip())
    except ValueError:
        return base  # a malformed xml:base changes nothing


# --- decoding --------------------------------------------------------------------------

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# XML 1.0 appendix F: the first four bytes of "<?xm" without a byte order mark.
_SNIFF = (
    (b"\x00\x00\x00<", "utf-32-be"),
    (b"<\x00\x00\x00", "utf-32-le"),
    (b"\x00<\x00?", "utf-16-be"),
    (b"<\x00?\x00", "utf-16-le"),
    (b"Lo\xa7\x94", "cp037"),
)
# IANA names Python's codecs do not know, and labels that mean a superset in practice.
_ALIASES = {
    "csmacintosh": "mac-roman",
    "macintosh": "mac-roman",
    "csunicode": "utf-16",
    "iso-10646-ucs-2": "utf-16",
    "ucs-2": "utf-16",
    "csucs4": "utf-32",
    "iso-10646-ucs-4": "utf-32",
    "ucs-4": "utf-32",
    "gb2312": "gb18030",
    "csgb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "x-sjis": "shift_jis",
    "x-euc-jp": "euc_jp",
    "ks_c_5601-1987": "cp949",
    "euc-kr": "cp949",
    "big5": "big5hkscs",
    "iso-8859-1": "windows-1252",
    "latin1": "windows-1252",
    "us-ascii": "windows-1252",
    "ascii": "windows-1252",
}
_DECLARATION = re.compile(rb"""^\s*<\?xml\s[^>]*?encoding\s*=\s*["']([^"'<>]{1,64})["']""")
_CHARSET = re.compile(r"""charset\s*=\s*["']?([^"';,\s]{1,64})""", re.IGNORECASE)


def charset_of(content_type: str | None) -> str | None:
    """The ``charset`` parameter of an HTTP ``Content-Type`` header, if any."""
    match = _CHARSET.search(content_type or "")
    return match.group(1) if match else None


def _codec(label: str) -> str | None:
    name = label.strip().lower()
    name = _ALIASES.get(name, name)
    try:
        return codecs.lookup(name).name
    except (LookupError, ValueError):  # ValueError: a NUL in the label
        return None


def _ascii_compatible(codec: str) -> bool:
    try:
        return "<?xml".encode(codec) == b"<?xml"
    except (UnicodeError, LookupError):  # pragma: no cover - every text codec encodes ASCII
        return False


def decode(data: bytes, http_charset: str | None = None) -> tuple[str, str]:
    """The document as text and the encoding used; ``FeedXMLError`` for an encoding label
    nobody knows (the BOM, or UTF-16/32 seen in the first bytes, override any label)."""
    for bom, codec in _BOMS:
        if data.startswith(bom):
            return _decode(data[len(bom) :], codec), codec
    for head, codec in _SNIFF:
        if data.startswith(head):
            if codec == "cp037":  # EBCDIC: the declaration says which one
                return _decode(data, _ebcdic(data) or codec), codec
            return _decode(data, codec), codec
    chosen: str | None = None
    if http_charset:
        chosen = _codec(http_charset)
        if chosen is None:
            raise FeedXMLError(f"unknown character encoding {http_charset!r} (HTTP charset)")
    if chosen is None:
        match = _DECLARATION.match(data[:1024])
        if match:
            label = match.group(1).decode("ascii", "replace")
            chosen = _codec(label)
            if chosen is None:
                raise FeedXMLError(f"unknown character encoding {label!r} (in the XML declaration)")
    if chosen is None or not _ascii_compatible(chosen):
        # No label, or one that cannot be: the bytes before it were read as ASCII.
        chosen = "utf-8"
    return _decode(data, chosen), chosen


def _ebcdic(data: bytes) -> str | None:
    head = data[:1024].decode("cp037", "replace").encode("ascii", "replace")
    match = _DECLARATION.match(head)
    return _codec(match.group(1).decode("ascii")) if match else None


def _c1_controls(exc: UnicodeError) -> tuple[str, int]:
    # windows-1252 as browsers decode it: the five bytes it leaves undefined (0x81, 0x8D,
    # 0x8F, 0x90, 0x9D) are the C1 controls of the same number, so decoding never fails.
    assert isinstance(exc, UnicodeDecodeError)
    return exc.object[exc.start : exc.end].decode("latin-1"), exc.end


codecs.register_error("vvtv-windows-1252", _c1_controls)


def _decode(data: bytes, codec: str) -> str:
    for attempt in (codec, "utf-8"):
        try:
            return data.decode(attempt)
        except UnicodeDecodeError:
            continue
    return data.decode("windows-1252", "vvtv-windows-1252")


# --- making text expat can read ------------------------------------------------------------

_HTML_ENTITIES = html.entities.html5
_LEADING_DECLARATION = re.compile(r"^\s*<\?xml\s[^>]*\?>", re.IGNORECASE)
_NOT_XML_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
# CDATA sections are kept as they are and comments dropped (a comment holds nothing a feed
# reader needs, and "--" inside one, common in the wild, is not well-formed XML).
_CDATA_OR_COMMENT = re.compile(r"(<!\[CDATA\[.*?(?:\]\]>|$)|<!--.*?(?:-->|$))", re.DOTALL)
_REF = r"(#[0-9]{1,10}|#[xX][0-9a-fA-F]{1,8}|[A-Za-z][A-Za-z0-9]{0,31});"
# References that need a look: numeric ones and names XML does not define.
_REFERENCE = re.compile(r"&(?!(?:amp|lt|gt|quot|apos);)" + _REF)
# An ampersand that starts no reference at all.
_BARE_AMPERSAND = re.compile(r"&(?!" + _REF + ")")


def _reference(match: re.Match[str]) -> str:
    ref = match.group(1)
    if ref.startswith("#"):
        code = int(ref[2:], 16) if ref[1] in "xX" else int(ref[1:])
        return f"&#{code};" if _xml_char(code) else ""  # "&#X41;" is not XML, "&#65;" is
    named = _HTML_ENTITIES.get(ref + ";")
    if named is not None:
        return "".join(f"&#{ord(c)};" for c in named)
    return "&amp;" + ref + ";"  # a name nobody declared: keep it as text


def _xml_char(code: int) -> bool:
    return (
        code in (0x9, 0xA, 0xD)
        or 0x20 <= code <= 0xD7FF
        or 0xE000 <= code <= 0xFFFD
        or 0x10000 <= code <= 0x10FFFF
    )


def prepare(text: str) -> str:
    """``text`` with the leniencies of the module docstring applied (never longer than five
    times ``text``: a bare ``&`` becomes ``&amp;``)."""
    text = _NOT_XML_CHARS.sub("", text)
    parts = _CDATA_OR_COMMENT.split(text)
    for i, part in enumerate(parts):
        if i % 2:  # a CDATA section or a comment
            parts[i] = part if part.startswith("<![") else ""
        elif "&" in part:
            part = _REFERENCE.sub(_reference, part)
            parts[i] = _BARE_AMPERSAND.sub("&amp;", part)
    text = "".join(parts).lstrip("\ufeff \t\r\n")
    return _LEADING_DECLARATION.sub("", text, count=1)


# --- reading ---------------------------------------------------------------------------------


def read_document(data: bytes, *, base_url: str, http_charset: str | None = None) -> Document:
    """The items of a feed document; ``FeedXMLError`` (``UnsafeXML`` for what is refused on
    principle) when it cannot be read as one."""
    text, encoding = decode(data, http_charset)
    text = prepare(text)
    if not text:
        raise FeedXMLError("empty document")
    reader = _Reader(base_url)
    parser = expat.ParserCreate()
    reader.parser = parser
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.buffer_text = True
    parser.buffer_size = 65536
    parser.StartElementHandler = reader.start
    parser.EndElementHandler = reader.end
    parser.CharacterDataHandler = reader.text
    parser.EntityDeclHandler = reader.entity_declared
    parser.UnparsedEntityDeclHandler = reader.entity_declared
    parser.ExternalEntityRefHandler = reader.external_reference
    broken = None
    try:
        parser.Parse(text, True)
    except expat.ExpatError as exc:
        if not reader.items:
            raise FeedXMLError(f"malformed XML: {exc}") from None
        broken = f"malformed XML after item {len(reader.items)}: {exc}"
    except _TooDeep as exc:
        if not reader.items:
            raise FeedXMLError(f"refused: {exc}") from None
        broken = f"refused after item {len(reader.items)}: {exc}"
    if reader.root not in _FORMATS:
        assert reader.root is not None
        hint = " (a CDF channel?)" if reader.root == ("", "channel") else ""
        raise FeedXMLError(
            f"not an RSS, RSS 1.0 or Atom feed (root element <{_qname(reader.root)}>{hint})"
        )
    return Document(
        _FORMATS[reader.root], reader.items, reader.skipped, encoding=encoding, broken=broken
    )


def _qname(key: tuple[str, str]) -> str:
    ns, name = key
    return f"{ns}:{name}" if ns else name
