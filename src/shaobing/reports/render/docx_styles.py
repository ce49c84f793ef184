"""Word styles of a report: our house style, or the organisation's ``reference.docx``.

With python-docx's default template every style we use is (re)defined here: A4, 宋体/Times New
Roman body at 小四 with 1.5 line spacing and a two-character first-line indent, 黑体/Arial
headings. With a reference document its styles win; only the ones it lacks are added, so a
report always has real ``Heading 1..3`` styles for Word's navigation pane.

Paragraphs refer to styles by id, and ids differ between documents (a Chinese Word names
``heading 1`` with id ``1``), so ids are looked up by style name.
"""

from __future__ import annotations

from dataclasses import dataclass

from docx.document import Document
from docx.oxml.xmlchemy import BaseOxmlElement
from docx.shared import Cm

from shaobing.reports.render.docx_xml import EMU_PER_TWIP, parse

BODY_ASCII = "Times New Roman"
BODY_EAST_ASIA = "宋体"
HEAD_ASCII = "Arial"
HEAD_EAST_ASIA = "黑体"

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


@dataclass(frozen=True)
class StyleIds:
    """The style ids the renderer writes, resolved in the document being built."""

    heading: tuple[str, str, str]
    body: str
    center: str
    note: str
    caption: str
    bullet: str
    number: str
    table_text: str
    table_grid: str | None
    toc_heading: str
    title: str
    subtitle: str
    header: str
    footer: str
    number_num_id: int | None
    number_ind: str = ""
    header_tabs: tuple[int, ...] = ()
    footer_tabs: tuple[int, ...] = ()


def _fonts(ascii_font: str, east_asia: str) -> str:
    return (
        f'<w:rFonts w:ascii="{ascii_font}" w:hAnsi="{ascii_font}" '
        f'w:eastAsia="{east_asia}" w:cs="{ascii_font}"/>'
    )


def _size(half_points: int) -> str:
    return f'<w:sz w:val="{half_points}"/><w:szCs w:val="{half_points}"/>'


def _para_style(
    sid: str,
    name: str,
    *,
    based_on: str | None = "Normal",
    next_style: str | None = None,
    ppr: str = "",
    rpr: str = "",
    custom: bool = False,
) -> str:
    attrs = ' w:customStyle="1"' if custom else ""
    based = f'<w:basedOn w:val="{based_on}"/>' if based_on else ""
    nxt = f'<w:next w:val="{next_style}"/>' if next_style else ""
    return (
        f'<w:style w:type="paragraph"{attrs} w:styleId="{sid}"><w:name w:val="{name}"/>'
        f'{based}{nxt}<w:uiPriority w:val="9"/><w:qFormat/>'
        f"<w:pPr>{ppr}</w:pPr><w:rPr>{rpr}</w:rPr></w:style>"
    )


_HEADINGS = (  # (level, half-points, space before, space after)
    (1, 32, 360, 240),
    (2, 28, 240, 120),
    (3, 24, 200, 100),
)

_TABLE_GRID = (
    '<w:style w:type="table" w:styleId="TableGrid"><w:name w:val="Table Grid"/>'
    '<w:basedOn w:val="TableNormal"/><w:pPr><w:spacing w:after="0" w:line="240" '
    'w:lineRule="auto"/></w:pPr><w:tblPr><w:tblBorders>'
    + "".join(
        f'<w:{side} w:val="single" w:sz="4" w:space="0" w:color="auto"/>'
        for side in ("top", "left", "bottom", "right", "insideH", "insideV")
    )
    + '</w:tblBorders><w:tblCellMar><w:left w:w="108" w:type="dxa"/>'
    '<w:right w:w="108" w:type="dxa"/></w:tblCellMar></w:tblPr></w:style>'
)


def _list_style(sid: str, name: str, num_id: int | None) -> str:
    numpr = f'<w:numPr><w:numId w:val="{num_id}"/></w:numPr>' if num_id is not None else ""
    return _para_style(
        sid,
        name,
        ppr=(
            f'{numpr}<w:spacing w:line="360" w:lineRule="auto"/>'
            '<w:ind w:left="840" w:hanging="420"/><w:jc w:val="both"/>'
        ),
    )


def _definitions(text_width: int, list_num_ids: dict[str, int | None]) -> dict[str, str]:
    """Our style definitions by lower-case style name."""
    head = _fonts(HEAD_ASCII, HEAD_EAST_ASIA)
    body = _fonts(BODY_ASCII, BODY_EAST_ASIA)
    black = '<w:color w:val="000000"/>'
    defs: dict[str, str] = {
        "normal": (
            '<w:style w:type="paragraph" w:default="1" w:styleId="Normal">'
            '<w:name w:val="Normal"/><w:qFormat/><w:pPr><w:widowControl/></w:pPr>'
            f"<w:rPr>{body}{_size(24)}</w:rPr></w:style>"
        ),
        "body text": _para_style(
            "BodyText",
            "Body Text",
            ppr=(
                '<w:spacing w:before="0" w:after="0" w:line="360" w:lineRule="auto"/>'
                '<w:ind w:firstLineChars="200" w:firstLine="480"/><w:jc w:val="both"/>'
            ),
        ),
        "body center": _para_style(
            "BodyCenter",
            "Body Center",
            based_on="BodyText",
            ppr='<w:ind w:firstLineChars="0" w:firstLine="0"/><w:jc w:val="center"/>',
            custom=True,
        ),
        "note": _para_style(
            "Note",
            "Note",
            ppr=(
                '<w:shd w:val="clear" w:color="auto" w:fill="F2F2F2"/>'
                '<w:spacing w:before="60" w:after="60" w:line="300" w:lineRule="auto"/>'
                '<w:ind w:left="120" w:right="120"/><w:jc w:val="both"/>'
            ),
            rpr=f'<w:color w:val="404040"/>{_size(21)}',
            custom=True,
        ),
        "caption": _para_style(
            "Caption",
            "caption",
            next_style="BodyText",
            ppr='<w:spacing w:before="120" w:after="120"/><w:jc w:val="center"/>',
            rpr=f"{head}{black}{_size(21)}",
        ),
        "table text": _para_style(
            "TableText",
            "Table Text",
            ppr='<w:spacing w:before="0" w:after="0" w:line="240" w:lineRule="auto"/>',
            rpr=_size(21),
            custom=True,
        ),
        "toc heading": _para_style(
            "TOCHeading",
            "TOC Heading",
            next_style="Normal",
            ppr=(
                '<w:keepNext/><w:spacing w:before="240" w:after="240"/>'
                '<w:jc w:val="center"/><w:outlineLvl w:val="9"/>'
            ),
            rpr=f"{head}<w:b/><w:bCs/>{black}{_size(32)}",
        ),
        "title": _para_style(
            "Title",
            "Title",
            next_style="Subtitle",
            ppr='<w:spacing w:before="0" w:after="360" w:line="240" w:lineRule="auto"/>'
            '<w:jc w:val="center"/>',
            rpr=f"{head}<w:b/><w:bCs/>{black}{_size(52)}",
        ),
        "subtitle": _para_style(
            "Subtitle",
            "Subtitle",
            next_style="Normal",
            ppr='<w:spacing w:before="0" w:after="240"/><w:jc w:val="center"/>',
            rpr=f"{body}{black}{_size(32)}",
        ),
        "list bullet": _list_style("ListBullet", "List Bullet", list_num_ids.get("list bullet")),
        "list number": _list_style("ListNumber", "List Number", list_num_ids.get("list number")),
    }
    for level, half, before, after in _HEADINGS:
        defs[f"heading {level}"] = _para_style(
            f"Heading{level}",
            f"heading {level}",
            next_style="BodyText",
            ppr=(
                f'<w:keepNext/><w:keepLines/><w:spacing w:before="{before}" w:after="{after}" '
                f'w:line="240" w:lineRule="auto"/><w:outlineLvl w:val="{level - 1}"/>'
            ),
            rpr=f"{head}<w:b/><w:bCs/>{black}{_size(half)}",
        )
        indent = 420 * (level - 1)
        defs[f"toc {level}"] = _para_style(
            f"TOC{level}",
            f"toc {level}",
            next_style="Normal",
            ppr=(
                f'<w:tabs><w:tab w:val="right" w:leader="dot" w:pos="{text_width}"/></w:tabs>'
                f'<w:spacing w:before="0" w:after="0" w:line="360" w:lineRule="auto"/>'
                f'<w:ind w:left="{indent}"/>'
            ),
        )
    for name, sid in (("header", "Header"), ("footer", "Footer")):
        defs[name] = _para_style(
            sid,
            name,
            ppr=(
                f'<w:tabs><w:tab w:val="center" w:pos="{text_width // 2}"/>'
                f'<w:tab w:val="right" w:pos="{text_width}"/></w:tabs>'
                '<w:spacing w:before="0" w:after="0" w:line="240" w:lineRule="auto"/>'
            ),
            rpr=f'<w:color w:val="404040"/>{_size(18)}',
        )
    defs["table grid"] = _TABLE_GRID
    return defs


def _styles_root(document: Document) -> BaseOxmlElement:
    root: BaseOxmlElement = document.styles.element
    return root


def _by_name(root: BaseOxmlElement) -> dict[str, BaseOxmlElement]:
    found: dict[str, BaseOxmlElement] = {}
    for style in root.iterchildren(f"{_W}style"):
        name = style.find(f"{_W}name")
        if name is not None:
            found.setdefault(str(name.get(f"{_W}val")).lower(), style)
    return found


def _num_id(style: BaseOxmlElement | None) -> int | None:
    if style is None:
        return None
    value = style.find(f"{_W}pPr/{_W}numPr/{_W}numId")
    return int(str(value.get(f"{_W}val"))) if value is not None else None


def _set_doc_defaults(root: BaseOxmlElement) -> None:
    defaults = root.find(f"{_W}docDefaults")
    new = parse(
        f"<w:docDefaults><w:rPrDefault><w:rPr>{_fonts(BODY_ASCII, BODY_EAST_ASIA)}"
        f'{_size(24)}<w:lang w:val="en-US" w:eastAsia="zh-CN" w:bidi="ar-SA"/></w:rPr>'
        '</w:rPrDefault><w:pPrDefault><w:pPr><w:spacing w:after="0" w:line="240" '
        'w:lineRule="auto"/></w:pPr></w:pPrDefault></w:docDefaults>'
    )
    if defaults is not None:
        defaults.addprevious(new)
        root.remove(defaults)
    else:
        root.insert(0, new)


def page_setup(document: Document) -> None:
    """A4 portrait with margins suited to bound reports (left a little wider for binding)."""
    section = document.sections[-1]
    section.page_width, section.page_height = Cm(21.0), Cm(29.7)
    section.top_margin, section.bottom_margin = Cm(2.54), Cm(2.54)
    section.left_margin, section.right_margin = Cm(2.8), Cm(2.6)
    section.header_distance, section.footer_distance = Cm(1.5), Cm(1.75)


def text_width_twips(document: Document) -> int:
    """The body text width of the last section, in twips."""
    section = document.sections[-1]
    width = (section.page_width or Cm(21.0)) - (section.left_margin or 0)
    width -= section.right_margin or 0
    return int(width) // EMU_PER_TWIP


def setup(document: Document, *, house_style: bool) -> StyleIds:
    """Define the styles (all of them for the house style, only missing ones otherwise)."""
    root = _styles_root(document)
    existing = _by_name(root)
    list_ids = {name: _num_id(existing.get(name)) for name in ("list bullet", "list number")}
    definitions = _definitions(text_width_twips(document), list_ids)
    if house_style:
        _set_doc_defaults(root)
    taken = {str(s.get(f"{_W}styleId")) for s in root.iterchildren(f"{_W}style")}
    for name, xml in definitions.items():
        old = existing.get(name)
        if old is not None and not house_style:
            continue
        new = parse(xml)
        sid = str(new.get(f"{_W}styleId"))
        if old is not None:
            new.set(f"{_W}styleId", str(old.get(f"{_W}styleId")))
            old.addprevious(new)
            root.remove(old)
        else:
            while sid in taken:  # a reference document may use our id for another style
                sid += "X"
            new.set(f"{_W}styleId", sid)
            taken.add(sid)
            root.append(new)
    _relink(root)
    return _resolve(root)


# The ids our definitions point at (basedOn, next) and the style names they stand for.
_LINKS = {"Normal": "normal", "BodyText": "body text", "Subtitle": "subtitle"}
_LINKS.update({"TableNormal": "normal table"})


def _relink(root: BaseOxmlElement) -> None:
    """Point basedOn/next at the document's own ids for those styles."""
    styles = _by_name(root)
    actual = {
        our: str(styles[name].get(f"{_W}styleId")) for our, name in _LINKS.items() if name in styles
    }
    for ref in root.iterfind(f"{_W}style/{_W}basedOn"):
        ref.set(f"{_W}val", actual.get(str(ref.get(f"{_W}val")), str(ref.get(f"{_W}val"))))
    for ref in root.iterfind(f"{_W}style/{_W}next"):
        ref.set(f"{_W}val", actual.get(str(ref.get(f"{_W}val")), str(ref.get(f"{_W}val"))))


def _resolve(root: BaseOxmlElement) -> StyleIds:
    styles = _by_name(root)

    def sid(name: str) -> str:
        return str(styles[name].get(f"{_W}styleId"))

    grid = styles.get("table grid")
    return StyleIds(
        heading=(sid("heading 1"), sid("heading 2"), sid("heading 3")),
        body=sid("body text"),
        center=sid("body center"),
        note=sid("note"),
        caption=sid("caption"),
        bullet=sid("list bullet"),
        number=sid("list number"),
        table_text=sid("table text"),
        table_grid=str(grid.get(f"{_W}styleId")) if grid is not None else None,
        toc_heading=sid("toc heading"),
        title=sid("title"),
        subtitle=sid("subtitle"),
        header=sid("header"),
        footer=sid("footer"),
        number_num_id=_num_id(styles.get("list number")),
        number_ind=_indent_xml(styles["list number"]),
        header_tabs=_tab_stops(styles["header"]),
        footer_tabs=_tab_stops(styles["footer"]),
    )


def _indent_xml(style: BaseOxmlElement) -> str:
    """The style's own ``w:ind`` as XML, to repeat on list items that carry their own numPr.

    A numPr on the paragraph brings the numbering definition's indent, which outranks the
    style's; repeating the style's indent keeps numbered and bulleted lists aligned.
    """
    ind = style.find(f"{_W}pPr/{_W}ind")
    if ind is None:
        return ""
    attrs = " ".join(f'w:{key.rsplit("}", 1)[-1]}="{value}"' for key, value in ind.attrib.items())
    return f"<w:ind {attrs}/>"


def _tab_stops(style: BaseOxmlElement) -> tuple[int, ...]:
    """The tab positions a style sets (the running header clears them for its own)."""
    return tuple(
        int(str(tab.get(f"{_W}pos")))
        for tab in style.iterfind(f"{_W}pPr/{_W}tabs/{_W}tab")
        if tab.get(f"{_W}val") != "clear"
    )
