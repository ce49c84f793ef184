"""What a crawler needs from an HTML page: links, forms, script URLs, the base URL.

Parsed with the standard library's tolerant ``html.parser`` (never a DOM, never scripts
run). Input is capped (:data:`MAX_HTML`) so a gigabyte page costs at most that much work;
URLs referenced from inline or external JavaScript are found with patterns for the usual
idioms (``fetch('/api/x')``, ``location.href = '...'``, ``$.get("...")``, ``url: '...'``
and quoted absolute paths).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

# Most HTML text parsed per page (organisation-defined: real pages are far smaller; the
# cap bounds the work a hostile page can cause).
MAX_HTML = 2 * 2**20
# Most links and forms kept per page (organisation-defined, same reason).
MAX_LINKS = 5000
MAX_FORMS = 200
MAX_FIELDS = 200

_LINK_ATTRS = {
    "a": ("href",),
    "area": ("href",),
    "link": ("href",),
    "iframe": ("src",),
    "frame": ("src",),
    "script": ("src",),
    "img": ("src",),
    "embed": ("src",),
    "source": ("src",),
    "object": ("data",),
}
_SKIP_SCHEMES = ("javascript:", "mailto:", "tel:", "data:", "about:", "#")
# URL-looking strings in JavaScript: quoted paths and the common call/assignment idioms.
_JS_URL = re.compile(
    r"""(?x)
    (?:fetch|open|get|post|put|ajax|load|axios(?:\.\w+)?|href|src|action|url|location
       |location\.(?:href|replace|assign))
    \s*[\(=:]\s*\(?\s*
    (?P<q>['"`])(?P<url>[^'"`\s<>{}]{1,300})(?P=q)
    |
    (?P<q2>['"])(?P<path>/[A-Za-z0-9_\-./~%]{1,300}(?:\?[^'"\s<>]{0,200})?)(?P=q2)
    """
)
_META_REFRESH = re.compile(r"(?i)url\s*=\s*['\"]?([^'\";]+)")
_STATIC = re.compile(r"(?i)\.(?:png|jpe?g|gif|ico|svg|webp|bmp|woff2?|ttf|eot|otf|mp[34]|avi|css)$")


@dataclass
class FormField:
    """One named control of a form."""

    name: str
    kind: str
    value: str = ""
    options: list[str] = field(default_factory=list)


@dataclass
class Form:
    """A form: where it goes, how, and its named controls."""

    action: str
    method: str = "GET"
    enctype: str = "application/x-www-form-urlencoded"
    fields: list[FormField] = field(default_factory=list)
    submit_labels: list[str] = field(default_factory=list)
    form_id: str = ""

    @property
    def has_password(self) -> bool:
        """Whether the form asks for a password."""
        return any(f.kind == "password" for f in self.fields)

    def text(self) -> str:
        """Everything that names the form (action, id, field names, button labels)."""
        names = " ".join(f.name for f in self.fields)
        return " ".join([self.action, self.form_id, names, *self.submit_labels])


@dataclass
class Page:
    """What was found on one page."""

    base: str
    links: list[str] = field(default_factory=list)
    resources: list[str] = field(default_factory=list)
    forms: list[Form] = field(default_factory=list)
    scripts: list[str] = field(default_factory=list)
    inline_scripts: list[str] = field(default_factory=list)
    title: str = ""
    link_texts: dict[str, str] = field(default_factory=dict)


class _Parser(HTMLParser):
    def __init__(self, url: str) -> None:
        super().__init__(convert_charrefs=True)
        self.page = Page(base=url)
        self._form: Form | None = None
        self._select: FormField | None = None
        self._textarea: FormField | None = None
        self._in_title = False
        self._in_script = False
        self._script_text: list[str] = []
        self._anchor: str | None = None
        self._anchor_text: list[str] = []

    def _url(self, value: str | None) -> str | None:
        if not value:
            return None
        value = value.strip()
        if not value or value.lower().startswith(_SKIP_SCHEMES):
            return None
        try:
            joined = urljoin(self.page.base, value)
            urlsplit(joined).port  # noqa: B018 - raises on a malformed port
        except ValueError:
            return None
        return joined.split("#", 1)[0]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k.lower(): (v or "") for k, v in attrs}
        if tag == "base" and values.get("href"):
            self.page.base = urljoin(self.page.base, values["href"])
            return
        if tag == "title":
            self._in_title = True
        if tag == "meta" and values.get("http-equiv", "").lower() == "refresh":
            found = _META_REFRESH.search(values.get("content", ""))
            if found:
                self._add_link(self._url(found.group(1)))
        for attr in _LINK_ATTRS.get(tag, ()):
            url = self._url(values.get(attr))
            if url is None:
                continue
            if tag == "script":
                self.page.scripts.append(url)
            elif tag in ("img", "source", "embed") or (tag == "link" and _is_resource(values)):
                self.page.resources.append(url)
            else:
                self._add_link(url)
                if tag == "a":
                    self._anchor, self._anchor_text = url, []
        if tag == "script" and not values.get("src"):
            self._in_script, self._script_text = True, []
        self._form_tag(tag, values)

    def _form_tag(self, tag: str, values: dict[str, str]) -> None:
        if tag == "form" and len(self.page.forms) < MAX_FORMS:
            action = self._url(values.get("action")) or self.page.base.split("#", 1)[0]
            self._form = Form(
                action=action,
                method=(values.get("method") or "GET").upper(),
                enctype=(values.get("enctype") or "application/x-www-form-urlencoded").lower(),
                form_id=values.get("id", "") or values.get("name", ""),
            )
            self.page.forms.append(self._form)
            return
        form = self._form
        if form is None or len(form.fields) >= MAX_FIELDS:
            return
        name = values.get("name", "")
        if tag == "input":
            kind = (values.get("type") or "text").lower()
            if kind in ("submit", "button", "image", "reset"):
                form.submit_labels.append(values.get("value", "") or name)
                if not name or kind in ("button", "reset"):
                    return
            if kind in ("checkbox", "radio") and any(f.name == name for f in form.fields):
                return
            if name:
                value = values.get("value", "")
                if kind in ("checkbox", "radio") and not value:
                    value = "on"
                form.fields.append(FormField(name, kind, value))
        elif tag == "select" and name:
            self._select = FormField(name, "select")
            form.fields.append(self._select)
        elif tag == "option" and self._select is not None:
            option = values.get("value", "")
            self._select.options.append(option)
            if not self._select.value or "selected" in values:
                self._select.value = option
        elif tag == "textarea" and name:
            self._textarea = FormField(name, "textarea")
            form.fields.append(self._textarea)
        elif tag == "button":
            form.submit_labels.append(values.get("value", "") or name)

    def _add_link(self, url: str | None) -> None:
        if url and len(self.page.links) < MAX_LINKS:
            self.page.links.append(url)

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None
        elif tag == "title":
            self._in_title = False
        elif tag == "script" and self._in_script:
            self._in_script = False
            self.page.inline_scripts.append("".join(self._script_text))
        elif tag == "a" and self._anchor is not None:
            text = " ".join("".join(self._anchor_text).split())[:100]
            if text:
                self.page.link_texts.setdefault(self._anchor, text)
            self._anchor = None

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.page.title += data
        if self._in_script:
            self._script_text.append(data)
        if self._textarea is not None:
            self._textarea.value += data
        if self._anchor is not None:
            self._anchor_text.append(data)
        # Texts inside a form (<button>删除</button>) name what the form does.
        form = self._form
        if (
            form is not None
            and not self._in_script
            and data.strip()
            and len(form.submit_labels) < 20
        ):
            form.submit_labels.append(data.strip()[:50])


def _is_resource(values: dict[str, str]) -> bool:
    rel = values.get("rel", "").lower()
    return any(word in rel for word in ("stylesheet", "icon", "preload", "manifest"))


def parse_page(url: str, text: str) -> Page:
    """Links, forms and scripts of the HTML ``text`` served at ``url``."""
    parser = _Parser(url)
    try:
        parser.feed(text[:MAX_HTML])
        parser.close()
    except (AssertionError, ValueError):  # html.parser gives up on some broken markup
        pass
    page = parser.page
    page.title = " ".join(page.title.split())[:200]
    for script in page.inline_scripts:
        page.links.extend(script_urls(page.base, script))
    page.links = list(dict.fromkeys(page.links))[:MAX_LINKS]
    return page


def script_urls(base: str, text: str) -> list[str]:
    """URLs referenced from JavaScript ``text`` (resolved against ``base``)."""
    found: list[str] = []
    for match in _JS_URL.finditer(text[:MAX_HTML]):
        raw = match.group("url") or match.group("path") or ""
        if not raw or raw.startswith(("//", "data:", "javascript:")) or "${" in raw:
            continue
        if raw.startswith(("http://", "https://", "/")) or "." in raw or raw.startswith("api"):
            try:
                found.append(urljoin(base, raw).split("#", 1)[0])
            except ValueError:
                continue
        if len(found) >= MAX_LINKS:
            break
    return list(dict.fromkeys(found))


def is_static(url: str) -> bool:
    """Whether ``url`` names an image, font, stylesheet or media file (not crawled for links)."""
    return bool(_STATIC.search(urlsplit(url).path))
