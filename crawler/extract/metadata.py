"""Page-level metadata: title, authors, canonical address, site name, image, description."""

from __future__ import annotations

import html as htmllib
import logging
import re
import unicodedata
from urllib.parse import urljoin, urlsplit

from lxml.html import HtmlElement
from trafilatura.metadata import normalize_authors

from crawler.extract.prune import class_words, is_furniture
from crawler.extract.structured import StructuredArticle

MetaTags = dict[str, list[str]]

_BY_PREFIX = re.compile(r"^\s*(?:written\s+)?by[:\s]+", re.IGNORECASE)
_AUTHOR_SPLIT = re.compile(r"\s*(?:;|\||,\s*and\s+|\s+and\s+|\s*&\s*|,)\s*", re.IGNORECASE)
# Trailing job titles and credits that bylines glue onto names.
_AUTHOR_TAIL = re.compile(
    r"\s*(?:\b(?:is|was)\s+an?\b.*|\s[-–—|]\s*.*|\bfor\s+.*|\bin\s+[A-Z][a-z]+.*"
    r"|(?i:\b(?:updated|published|posted|edited|link\s+copied)\b.*)"
    # the same labels in other languages ("AFP publié le", "Publiziert am")
    r"|(?i:\b(?:publiée?|mis\s+à\s+jour|publiziert|veröffentlicht|aktualisiert"
    r"|publicad[oa]|actualizad[oa]|pubblicato|aggiornato|atualizad[oa]|gepubliceerd"
    r"|bijgewerkt|opublikowano|опубликовано|обновлено)\b.*)"
    # a date after the name ("Jane Doe Dec 19"), a role ("Jane Doe Staff Writer", "CEO")
    # (a month word, then a number: "Martin", "Novak" and "May" alone are names)
    r"|(?<=\w)\s+(?i:(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?"
    r"|aug(?:ust)?|sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?\s+\d.*)"
    # reading time, a follow button, dots between byline fields ("Jane Doe · 5 min read")
    r"|\s+\d+\s*(?i:min(?:ute)?s?)\b.*|\s*[•·]\s.*|\s+(?i:follow(?:ing)?)$"
    r"|(?<=[a-z])(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\.?\s*\d.*"
    r"|(?<=[a-z])\s+(?i:(?:staff|senior|chief|contributing|special)\s+)?"
    r"(?i:writer|reporter|correspondent|editor|columnist|contributor|ceo|founder)s?"
    # the publisher in capitals after a name ("Jane Doe NEW YORK DAILY NEWS")
    r"|(?<=[a-z])(?:\s+[A-Z][A-Z.&]+){2,}"
    # CJK credits after a name: 著 (author), 訳/監訳 (translator), ／Publisher
    r"|\s*(?:著|監訳|訳|撰)$|\s*／.*"
    r"|(?i:\s+for\s+.*))$"
)
# Bylines open with "By" in many languages, and CJK pages with 作者：/ 文● / 著者.
_BYLINE_PREFIX = re.compile(
    r"^\s*(?:(?:(?:written|posted|story|words|reporting|reported|text"
    r"|(?:view\s+)?(?:all\s+|more\s+)?(?:posts|articles|stories))\s+)?"
    r"(?:by|por|par|von|door|av|af|przez)[:\s]+"
    # a label and a colon: "Author:", "Autor:", "Text:", "Автор:"
    r"|(?:authors?|autor(?:a|es|en|in)?|auteurs?|autore|autori|text|texto|testo|tekst"
    r"|автор|авторы|yazar|författare|forfattere?|kirjoittaja)\s*[:：]\s*"
    # the same labels before a name without a colon ("Authors Jane Doe", "Автор Иван")
    r"|(?:authors?|autor(?:a|es|en|in)?|auteurs?|автор|авторы)\s+(?=\w)"
    r"|(?:作者|记者|記者|文|著者|撰文|撰稿|筆者)\s*[:：●/／]?\s*)", re.IGNORECASE)
_NOT_A_NAME = re.compile(
    r"https?://|www\.|@|\d{3,}|^(?:staff|admin|editor|unknown|none|username|organization"
    r"|anonymous|guest|(?:see|view)\s+(?:full\s+)?(?:bio|profile)|follow(?:\s+\w+)?"
    r"|(?:\w+\s+){0,2}by|(?:about|meet)\s+the\s+authors?|no\s+authors?|authors?"
    r"|undefined|null|replying|reply"
    r"|(?:jan|feb|mar|apr|jun|jul|aug|sept?|oct|nov|dec)\.?\s+\d{1,2}"  # "Jan" is a name
    r"|(?:january|february|march|april|may|june|july|august|september|october|november"
    r"|december))$", re.I)
# A Chinese byline in running text: "作者：张三", "（记者 李四、王五）" (editors are not
# authors); the names must end where the byline does.
_HANZI_NAMES = r"([\u4e00-\u9fff]{2,4}(?:[、，\s]+[\u4e00-\u9fff]{2,4})*)(?=$|[）)\s，。、])"
_TEXT_BYLINE = re.compile(
    r"(?:(?<!责任)(?<!編集)(?:作者|撰文|撰稿)\s*[:：]\s*|(?:记者|記者)[\s:：]+)" + _HANZI_NAMES)
# Job titles that bylines list beside names ("Jane Doe, Senior Political Correspondent").
_JOB_TITLE = re.compile(
    r"\b(?:correspondent|editor|reporter|writer|columnist|contributor|critic|producer|"
    r"photographer|analyst|presenter|commentator|technologist|director|professor|fellow|"
    r"researcher|scientist|updates)s?\b", re.I
)
# A word in capitals of up to five letters beside a person's name is the news agency or
# desk ("Jane Doe, TNN"); alone, it is the byline the page gives ("AFP").
_AGENCY_CODE = re.compile(r"^[A-Z]{2,5}$")
# "Gillman, Steve" / "Jong, Michiel de": a surname, a comma, then given names.
_SURNAME_FIRST = re.compile(r"^([^\W\d_][\w'’-]*),\s+([^\W\d_][\w.'’-]*(?:\s+[\w.'’-]+)?)$")
_PARENTHESES = re.compile(r"\([^)]*\)")
# Credits other than authorship in a byline: translators, illustrators, photographers
# ("嶋田 健志 監訳", "著者 A イラスト B", "Photos by Jane Doe").
_CREDIT_ROLES = r"(?:監訳|翻訳|訳者|訳|イラスト|写真|撮影|監修|作画|摄影|编译|翻译)"
_OTHER_CREDIT = re.compile(
    _CREDIT_ROLES + r"\s*$|^\s*(?:" + _CREDIT_ROLES + r"|(?:photos?|photography|"
    r"illustrations?|graphics?|translated|translation|fotos?|fotografie|bilder?"
    r"|edit(?:ed|ing)\s+by|(?:medically\s+)?reviewed\s+by|fact[-\s]?checked\s+by"
    r"|(?:developed|designed|powered)\s+by|редактор|фото|снимк[аи])\b)", re.I)
_CREDIT_TAIL = re.compile(
    r"\s+" + _CREDIT_ROLES + r"(?:\s|[:：]).*$"
    r"|\s+(?i:(?:medically\s+)?reviewed|fact[-\s]?checked)\s+by\b.*$")
# "and" in the languages whose bylines join names with it; a page in another (or an
# unknown) language is split on all of them.
CONJUNCTIONS = {"en": "and", "de": "und", "nl": "en", "da": "og", "no": "og", "nb": "og",
                "nn": "og", "sv": "och", "fr": "et", "es": "y", "ca": "i", "pt": "e", "it": "e"}
# An e-mail address or a social handle beside a name ("Jane Doe jane@example.com").
_CONTACT = re.compile(r"\S+@\S+\.\w+|(?<!\S)@\w+")
# Degrees and suffixes a comma sets after a name ("Jane Doe, Ph.D.").
_DEGREE = re.compile(r"^(?i:ph\.?\s?d|m\.?d|mba|msc|bsc|rn|jr|sr|esq|dvm)\.?$")
_NAME_LISTS = re.compile(r"\s*[、，]\s*|\s*/\s+")
_DOMAIN_LIKE = re.compile(r"[a-z0-9]\.(?:[a-z]{2,3}|info|online|news)$", re.I)
_LENIENT = re.compile(r"\w+")
_MIN_IMAGE_WIDTH = 200


def meta_tags(tree: HtmlElement) -> MetaTags:
    """All <meta> values keyed by lowercased property/name/itemprop, in page order."""
    tags: MetaTags = {}
    for meta in tree.iter("meta"):
        key = meta.get("property") or meta.get("name") or meta.get("itemprop")
        value = meta.get("content") or meta.get("value")  # some CMSs write value=
        if key and value and value.strip():
            tags.setdefault(key.strip().lower(), []).append(htmllib.unescape(value.strip()))
    return tags


def first_meta(tags: MetaTags, *keys: str) -> str | None:
    for key in keys:
        if tags.get(key):
            return tags[key][0]
    return None


def _clean(text: str | None) -> str | None:
    if not text:
        return None
    text = " ".join(htmllib.unescape(text).split())
    return text or None


_DATE_SEGMENT = re.compile(
    r"^(?:\d{1,4}[./-]\d{1,2}[./-]\d{1,4}|\d{1,2}\.?\s+\w+\.?\s+\d{4}|\w+\.?\s+\d{1,2},?\s+\d{4}"
    r"|\d{4}年\d{1,2}月\d{1,2}日)$"
)
# Separators used without spaces (CJK titles, "Site: Headline"), and brackets around a
# trailing name; only segments that name the site or a date are cut at them.
_CJK_SEPARATORS = re.compile(r"\s*[：｜|:_]\s*|\s*::\s*|(?=（[^（）]+）$)")
_WIDE_SEPARATORS = re.compile(
    r"\s+(?:[|–—•·:»«/@-]|--|::)\s+|\s+\|\s*|\s*\|\s+|\s+::$")
# Two signals agree when one holds the other and the shorter is this share of the longer
# ("Headline | Site" holds "Headline"; an og:title cut short is held by the h1).
_AGREEMENT_SHARE = 0.5
_MAX_H1S = 5


# A domain label this short ("dw", "ft") is too common a word part to be recognised
# inside a segment; it must match the whole segment.
_MIN_LABEL_CHARS = 5


def names_site(key: str, publishers: set[str]) -> bool:
    """Whether `key` (lenient) names the site: one of its names, the start of one
    ("日本経済新聞" of "日本経済新聞 電子版", "factorio" of "factorio com"), or the
    site's domain label written out ("Ultima Hora Mallorca" for ultimahora.es)."""
    if not key:
        return False
    joined = key.replace(" ", "")
    for name in publishers:
        if key == name or joined == name.replace(" ", ""):
            return True
        if name.startswith(key + " "):
            return True
        label = name.replace(" ", "")
        if " " not in name and len(label) >= _MIN_LABEL_CHARS and label in joined and len(
                label) * 2 >= len(joined):
            return True
    return False


def _is_site_segment(segment: str, publishers: set[str]) -> bool:
    key = lenient(segment.strip("（）() "))
    if not key:
        return True
    return names_site(key, publishers) or bool(
        _DATE_SEGMENT.match(segment.strip()) or _BY_PREFIX.match(segment))


def strip_site_name(title: str, publishers: set[str], guess: bool = False) -> str:
    """Drop leading and trailing segments that name the site or date the page ("… – DW –
    30.01.2024", "Headline：Site", "By … | Site"), in any separator form. With `guess`
    (for <title>), an unknown trailing brand is dropped by keeping the longest segment."""
    for separators in (_WIDE_SEPARATORS, _CJK_SEPARATORS):
        parts = [part for part in separators.split(title) if part is not None]
        if len(parts) < 2:
            continue
        while len(parts) > 1 and _is_site_segment(parts[-1], publishers):
            parts.pop()
        while len(parts) > 1 and _is_site_segment(parts[0], publishers):
            parts.pop(0)
        if len(parts) > 1 and guess and (separators is _WIDE_SEPARATORS or len(parts) < len(
                [p for p in separators.split(title) if p is not None])):
            # A section name left between the headline and the cut site name
            # ("Headline_Section_Site") goes too.
            return max(parts, key=len)
        kept = _rejoin(title, parts)
        if kept != title:
            return kept
    return title


def _rejoin(title: str, parts: list[str]) -> str:
    """The span of `title` from the first kept part to the end of the last one."""
    start = title.find(parts[0])
    end = title.rfind(parts[-1]) + len(parts[-1])
    return title[start:end] if 0 <= start < end else title


def _segments(text: str) -> list[str]:
    return [lenient(part) for separators in (_WIDE_SEPARATORS, _CJK_SEPARATORS)
            for part in separators.split(text) if part]


def _agree(a: str, b: str) -> bool:
    """Same headline: equal, one holding most of the other, or one being a whole
    segment of the other ("Purple Rain" of "Prince and the Revolution – Purple Rain")."""
    la, lb = lenient(a), lenient(b)
    if not la or not lb:
        return False
    if la == lb:
        return True
    short, long_ = sorted((la, lb), key=len)
    if short in long_ and len(short) >= _AGREEMENT_SHARE * len(long_):
        return True
    return short in _segments(b if len(la) < len(lb) else a)


def _headings(tree: HtmlElement) -> list[str]:
    """The page's <h1> texts, those in the article's own header first."""
    found: list[str] = []
    for h1 in tree.iter("h1"):
        text = _clean(h1.text_content())
        if text and text not in found:
            found.append(text)
        if len(found) >= _MAX_H1S:
            break
    return found


def extract_title(
    tree: HtmlElement, tags: MetaTags, data: StructuredArticle, site_name: str | None,
    publishers: set[str] | None = None,
) -> str | None:
    """The displayed headline, chosen by agreement between independent signals.

    An <h1> that another signal (JSON-LD headline, og:title, twitter:title, <title>)
    agrees with is the headline as shown; else the first of those signals, cleaned of
    the site's name and the date, then a lone <h1>, then <title>.
    """
    names = set(publishers or ())
    if site_name:
        names.add(lenient(site_name))
    page_title = _clean(tree.findtext(".//title"))
    h1s = _headings(tree)
    names |= _site_headings(h1s, page_title)
    h1s = [h1 for h1 in h1s if not names_site(lenient(h1), names)]
    signals = [_clean(value) for value in (
        data.headline, first_meta(tags, "og:title"),
        first_meta(tags, "twitter:title", "headline", "title", "dc.title"),
    )]
    cleaned = [strip_site_name(s, names) for s in signals if s]
    others = [*cleaned, *([strip_site_name(page_title, names)] if page_title else [])]
    raw_signals = {lenient(signal) for signal in signals if signal}
    for h1 in h1s:
        # Shown and declared word for word: a segment of it naming the site is the
        # headline's own ("Teaching Online: …" on teaching.example.edu).
        if lenient(h1) in raw_signals:
            return h1
        agreeing = [other for other in others if _agree(h1, other)]
        if agreeing:
            return _unglued(strip_site_name(h1, names), agreeing, names)
    # A page's only <h1>, on the metadata's subject, is the headline as displayed; the
    # metadata holds a rewrite for sharing and search ("Broken pledge" shown, "Trump's
    # promises were a con" shared).
    if len(h1s) == 1 and any(_related(h1s[0], other, names) for other in others):
        return strip_site_name(h1s[0], names)
    # Two metadata signals agreeing with each other outvote a lone one.
    for index, value in enumerate(cleaned):
        if any(_agree(value, other) for other in cleaned[index + 1:]):
            return value
    if cleaned:
        return cleaned[0]
    if len(h1s) == 1 and not (page_title and _unrelated(h1s[0], page_title)):
        return h1s[0]
    if page_title:
        return strip_site_name(page_title, names, guess=True)
    return h1s[0] if h1s else None


def _site_headings(h1s: list[str], page_title: str | None) -> set[str]:
    """<h1>s that are the last, shorter segment of <title>: the site's name in a page
    header ("Headline_Section_Site" under an <h1> "Site"), not the headline."""
    if not page_title:
        return set()
    parts = [lenient(part) for part in _WIDE_SEPARATORS.split(page_title) if part]
    if len(parts) < 2:
        parts = [lenient(part) for part in re.split(r"[_：｜|]", page_title) if part]
    if len(parts) < 2 or len(parts[-1]) >= max(map(len, parts[:-1])):
        return set()
    return {lenient(h1) for h1 in h1s if lenient(h1) == parts[-1]}


def _unglued(h1: str, agreeing: list[str], names: set[str]) -> str:
    """The h1 without a site name glued on with no separator ("…InfantaUltima Hora"),
    when another signal is the h1's text up to it."""
    key = lenient(h1)
    for other in sorted(agreeing, key=len, reverse=True):
        rest = lenient(other)
        if rest != key and key.startswith(rest) and names_site(key[len(rest):].strip(), names):
            return other
    return h1


_CJK_CHAR = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")


def _content_words(text: str) -> set[str]:
    """Words of four or more letters, and pairs of adjacent CJK characters."""
    key = lenient(text)
    words = {word for word in key.split() if len(word) >= 4 and not _CJK_CHAR.search(word)}
    chars = "".join(_CJK_CHAR.findall(key))
    return words | {chars[i:i + 2] for i in range(len(chars) - 1)}


def _related(a: str, b: str, names: set[str]) -> bool:
    """Two headings on one subject: they share a content word that is not the site's
    name ("Minecraft News" over the "Minecraft 1.8" post is the site's)."""
    site_words = {word for name in names for word in name.split()}
    return bool(_content_words(a) & _content_words(b) - site_words)


def _unrelated(h1: str, page_title: str) -> bool:
    """An <h1> sharing no word with <title> heads something else (a greeting, a widget)."""
    return not set(lenient(h1).split()) & set(lenient(page_title).split())


def headline_element(tree: HtmlElement, title: str | None) -> HtmlElement | None:
    """The heading showing the chosen title (an <h1>, else an <h2> or <h3>: blogs give
    the <h1> to their own name), else the page's first <h1>."""
    first = tree.find(".//h1")
    if title:
        for tag in ("h1", "h2", "h3"):
            for heading in tree.iter(tag):
                if _agree(heading.text_content(), title):
                    return heading
    return first


def _conjunction_split(text: str, language: str | None) -> list[str]:
    words = [CONJUNCTIONS[language]] if language in CONJUNCTIONS else sorted(
        set(CONJUNCTIONS.values()))
    pattern = r"\s+(?:" + "|".join(map(re.escape, words)) + r")\s+"
    return re.split(pattern, text)


def normalise_author(raw: str, language: str | None = None) -> list[str]:
    """Split a byline into names, dropping "By", roles, URLs and placeholders."""
    text = _PARENTHESES.sub(" ", _clean(raw) or "")
    text = _CONTACT.sub(" ", text).strip()
    text = _BYLINE_PREFIX.sub("", text)
    surname_first = _SURNAME_FIRST.match(text)
    if surname_first and not _JOB_TITLE.search(text):
        text = f"{surname_first.group(2)} {surname_first.group(1)}"
    pieces = [bit for part in _AUTHOR_SPLIT.split(text) for chunk in _NAME_LISTS.split(part)
              for bit in _conjunction_split(chunk, language)]
    pieces = [_CREDIT_TAIL.sub("", part) for part in pieces if not _OTHER_CREDIT.search(part)]
    parts = [_AUTHOR_TAIL.sub("", _BYLINE_PREFIX.sub("", part)).strip(" .,:;-")
             for part in pieces]
    parts = [part for part in parts if _looks_like_name(part)]
    # "Jane Doe, Senior Technologist, Speech and Privacy Project": after the first job
    # title come the person's affiliations, not more names.
    for index, part in enumerate(parts):
        if index and _JOB_TITLE.search(part):
            parts = parts[:index + 1]
            break
    # "Jane Doe, Chief Political Correspondent" names Jane Doe; "Staff Reporter" alone
    # is still the byline the page gives.
    people = [part for part in parts if not _JOB_TITLE.search(part)] or parts
    people = [part for part in people if not _AGENCY_CODE.match(part)] or people
    return [_unshout(_without_trailing_month(name)) for name in people]


# A month glued after a name of two or more words, its day in another element
# ("Joshua Sokol May"); after one word it may be the surname ("Tom May").
_MONTHS = frozenset({"january", "february", "march", "april", "may", "june", "july", "august",
                     "september", "october", "november", "december", "jan", "feb", "mar",
                     "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec"})


def _without_trailing_month(name: str) -> str:
    words = name.split()
    if len(words) >= 3 and words[-1].rstrip(".").lower() in _MONTHS:
        return " ".join(words[:-1])
    return name


# A byline ending in one of these names a publication, desk or team ("Time Magazine",
# "Sports Desk", "Ascii編集部"): beside a person's name it is not an author; alone, it
# is still the byline the page gives.
_ORGANISATION_NAME = re.compile(
    r"(?i:\s(?:magazine|news|newsroom|staff|team|desk|editors|redaktion|rédaction|redacción"
    r"|redazione|redactie|wire|newswire|press|post|times|journal|herald|tribune|gazette"
    r"|agency|media|group|inc|ltd|llc|gmbh))$|^(?i:the)\s"
    r"|(?:編集部|编辑部|新聞社|报社|報道部|编辑组)$")


def _looks_like_name(text: str) -> bool:
    return (1 < len(text) <= 60 and not _DEGREE.match(text) and len(text.split()) <= 6
            and not _NOT_A_NAME.search(text) and not _DOMAIN_LIKE.search(text))


def lenient(text: str) -> str:
    """Text reduced to its case-folded words, for comparing names and titles."""
    return " ".join(_LENIENT.findall(unicodedata.normalize("NFKC", text).casefold()))


# Host labels that name no one: the web's own prefixes and the registries' second levels
# ("co.uk", "com.au", "ne.jp").
_GENERIC_LABELS = frozenset({"www", "m", "amp", "mobile", "com", "co", "org", "net", "ac",
                             "gov", "edu", "ne", "or", "go", "gv", "nic"})


def publisher_names(url: str, *names: str | None) -> set[str]:
    """Names the site goes by (site name, publisher, its domain and each label of it but
    the top level: "ascii" of weekly.ascii.jp), in lenient form."""
    found = {lenient(name) for name in names if name}
    host = (urlsplit(url).hostname or "").removeprefix("www.")
    if host:
        found.add(lenient(host))
        found.update(lenient(label) for label in host.split(".")[:-1]
                     if label not in _GENERIC_LABELS)
    return {name for name in found if name}


def _unshout(name: str) -> str:
    """"JANE DOE" becomes "Jane Doe"; one-word acronyms such as "AFP" stay as they are."""
    return name.title() if name.isupper() and " " in name else name


def _in_furniture(element: HtmlElement) -> bool:
    """Inside a comment section, teaser card, related-stories box and the like."""
    return any(is_furniture(ancestor) for ancestor in element.iterancestors())


def _byline_texts(tree: HtmlElement) -> list[str]:
    """Author names from visible markup: rel=author links and itemprop=author, outside
    comments and teaser cards."""
    elements = tree.xpath('.//*[@itemprop="author"] | .//a[@rel="author"]')
    texts = []
    for element in elements:
        if _in_furniture(element):
            continue
        value = element.get("content") or element.text_content()
        if value and value.strip():
            texts.append(" ".join(value.split()))
    return texts


_BY_LINE = re.compile(r"^\s*(?:by|por|par|von|door|av|af|przez)\s+(\S+)\s+(\S+)", re.I)
_MAX_BYLINE_CHARS = 80


_BY_WORD = re.compile(r"^\s*(?:by|por|par|von|door|av|af|przez)\b", re.I)
_BY_LINE_TAGS = frozenset({"div", "span", "p", "li", "address"})


def _by_line(tree: HtmlElement) -> list[str]:
    """A short visible line that opens with "By" ("By <a>Jane Doe</a>"), outside comments
    and teaser cards: the byline of pages that mark it with no class of their own."""
    for node in tree.xpath(".//text()"):
        if not _BY_WORD.match(node):
            continue
        element = node.getparent()
        if node.is_tail:
            element = element.getparent()
        # Up from the "By" to the smallest line holding a name after it ("<div><span>By
        # </span><a>Jane Doe</a></div>").
        while element is not None:
            text = " ".join(element.text_content().split())
            if len(text) > _MAX_BYLINE_CHARS:
                break
            match = _BY_LINE.match(text) if element.tag in _BY_LINE_TAGS else None
            if match:
                # A name follows: "By Jane Doe", not "By the end of the year".
                if all(word[0].isupper() for word in match.groups()) and not _in_furniture(
                        element):
                    return [text]
                break
            element = element.getparent()
    return []


# Paths of the pages a site keeps about each of its writers ("/author/jane-doe",
# "/autoren/123", "/staff/jdoe/posts.html").
_AUTHOR_PAGE = re.compile(
    r"/(?:authors?|autor(?:en|es|i|e)?|auteurs?|writers?|journalist(?:s|en)?|reporters?"
    r"|columnists?|contributors?|staff|redakteur(?:e|in)?)(?:/|$)", re.I)
_MAX_NAME_CHARS = 60
_MAX_LINKED_AUTHORS = 4


def _author_links(tree: HtmlElement) -> list[str]:
    """Names on the first links to writers' own pages in the article's part of the page
    (with the other such links beside it: several authors share one byline), outside
    comments and teaser cards."""
    scope = article_scope(tree)
    links = [a for a in scope.iter("a") if _AUTHOR_PAGE.search(a.get("href") or "")
             and 1 < len(a.text_content().strip()) <= _MAX_NAME_CHARS]
    links = [a for a in links if not _in_furniture(a) and not _in_other_stories(a)]
    if not links:
        return []
    byline = links[0].getparent()
    if byline is not None and byline.getparent() is not None and len(byline) == 1:
        byline = byline.getparent()  # "<span><a>Jane</a></span> and <span><a>John</a></span>"
    names = [" ".join(a.text_content().split()) for a in links
             if byline is not None and any(up is byline for up in a.iterancestors())]
    # A list of the site's columnists or staff is not a byline.
    if len(names) > _MAX_LINKED_AUTHORS or byline is None or len(
            " ".join(byline.text_content().split())) > _MAX_BYLINE_CHARS * 2:
        return []
    return names


_BYLINE_MARKERS = ("作者", "撰文", "撰稿", "记者", "記者")


def _text_byline(tree: HtmlElement) -> list[str]:
    """A byline written into the text ("作者：张三"), as CJK pages often give it."""
    text = "\n".join(tree.itertext())
    if not any(marker in text for marker in _BYLINE_MARKERS):
        return []
    for line in text.split("\n"):
        match = _TEXT_BYLINE.search(line)
        if match:
            return re.split(r"[、，\s]+", match.group(1))
    return []


def article_scope(tree: HtmlElement) -> HtmlElement:
    """The part of the page that holds the story's own header: the <article> (or <main>)
    around the first <h1>, else the page. Teaser cards elsewhere carry other bylines."""
    for h1 in tree.iter("h1"):
        for ancestor in h1.iterancestors():
            if ancestor.tag in ("article", "main"):
                return ancestor
        break
    return tree


_MAX_AUTHOR_CHARS = 120
# trafilatura's byline patterns (trafilatura.xpaths.AUTHOR_XPATHS), most specific first,
# checked in one walk over the page: libxml2's XPath takes ten times as long, and the
# EXSLT regular expressions of the originals call back into Python for every element.
_TIER1_TAGS = frozenset({"a", "address", "div", "link", "p", "span", "strong"})
_TIER2_TAGS = frozenset({"a", "div", "h3", "h4", "p", "span"})
_TIER1_CLASS = ("author-name", "authorname", "AuthorName", "authorName")
_TIER2_ID = ("author", "zuozhe", "bianji", "xiaobian")
_TIER2_CLASS = ("author", "channel-name", "zuozhe", "bianji", "xiaobian", "submitted-by",
                "posted-by", "journalist-name")
_TIER3_CLASS = ("author", "Author", "screenname", "writer", "byline", "Byline")
# Every mark below contains one of these: an element whose attributes contain none of
# them (most of a page) is ruled out by one search in C.
_AUTHOR_HINT = re.compile(
    "uthor|yline|byl|BBL|username|screenname|writer|zuozhe|bianji|xiaobian|channel-name"
    "|submitted-by|posted-by|journalist-name")


def _author_tier(element: HtmlElement) -> int | None:
    """1, 2 or 3 when the element is marked as a byline (most specific first), else None."""
    tag = element.tag
    if tag == "author":
        return 1
    attributes = element.attrib
    if not attributes or not _AUTHOR_HINT.search(" ".join(attributes.values())):
        return None
    get = element.get
    cls, ident, prop = get("class") or "", get("id") or "", get("itemprop") or ""
    if tag in _TIER1_TAGS and (
            get("rel") == "author" or ident == "author" or cls == "author"
            or prop == "author name" or get("data-testid") in ("AuthorCard", "AuthorURL")
            or any(word in cls for word in _TIER1_CLASS)):
        return 1
    if tag in _TIER2_TAGS and (
            cls in ("byline", "username", "byl", "BBL") or "author" in prop
            or any(word in ident for word in _TIER2_ID)
            or any(word in cls for word in _TIER2_CLASS)):
        return 2
    if ("Byline" in (get("data-component") or "") or "author" in prop
            or "author" in ident or "Author" in ident
            or any(word in cls for word in _TIER3_CLASS)):
        return 3
    return None


def _author_elements(tree: HtmlElement) -> list[HtmlElement]:
    tiers: dict[int, list[HtmlElement]] = {1: [], 2: [], 3: []}
    # A walk in Python with _AUTHOR_HINT's search in C is faster than any XPath selection.
    for element in tree.iter():
        if isinstance(element.tag, str):
            tier = _author_tier(element)
            if tier:
                tiers[tier].append(element)
    return tiers[1] + tiers[2] + tiers[3]


def _inside(element: HtmlElement, scope: HtmlElement) -> bool:
    return scope.getparent() is None or any(a is scope for a in element.iterancestors())


# Parts of a byline element that are not the name: its date, share buttons, pictures.
_BYLINE_NOISE = re.compile(r"date|time|share|comment|caption|social|avatar", re.I)


def _byline_text(element: HtmlElement) -> str:
    """The element's text with words of separate elements kept apart, leaving out its
    dates, share buttons and pictures."""
    parts: list[str] = []

    def walk(node: HtmlElement) -> None:
        noisy = node is not element and (
            node.tag in ("time", "figure", "img", "svg", "button", "script", "style")
            or _BYLINE_NOISE.search(f"{node.get('class') or ''} {node.get('id') or ''}"))
        if not noisy:
            parts.append(node.text or "")
            for child in node:
                if isinstance(child.tag, str):
                    walk(child)
                else:
                    parts.append(child.tail or "")
        if node is not element:
            parts.append(node.tail or "")

    walk(element)
    return " ".join(" ".join(parts).split())


# Containers of other stories and of readers' comments, whose bylines are not the article's.
_OTHER_STORIES = frozenset({
    "comment", "comments", "commentlist", "respond", "disqus", "related", "recirc",
    "recirculation", "popular", "trending", "mostread", "outbrain", "taboola", "teaser",
    "teasers", "card", "cards", "collection", "collections"})


def _in_other_stories(element: HtmlElement) -> bool:
    return any(any(word in _OTHER_STORIES for word in class_words(ancestor))
               for ancestor in (element, *element.iterancestors()))


def _visible_byline(tree: HtmlElement) -> list[str]:
    """The first element marked as the author (trafilatura's byline patterns: rel=author,
    class "author-name", "byline", ...) in the article's own part of the page, outside
    comments and teaser cards. The patterns are read on the page as it is: trafilatura's
    own byline search first copies the whole page."""
    scope = article_scope(tree)
    for element in _author_elements(tree):
        if not _inside(element, scope):
            continue
        text = _byline_text(element)
        if not 2 < len(text) < _MAX_AUTHOR_CHARS or _in_other_stories(element):
            continue
        names = normalize_authors(None, text)  # "; "-joined, read as one byline
        if names and normalise_author(names):
            return [names]
    return []


logging.getLogger("trafilatura.metadata").setLevel(logging.CRITICAL)


_META_AUTHOR_TAGS = ("author", "article:author", "parsely-author", "sailthru.author",
                     "dc.creator")
# Path words of author-page addresses that are not part of the name.
_SLUG_NOISE = re.compile(r"^(?:\d+|author|authors|profile|people|auteur|autor|by|staff)$")


def slug_name(address: str) -> str | None:
    """The name in an author page's address ("/profile/sam-levin" -> "Sam Levin")."""
    if not re.match(r"https?://", address):
        return None
    segments = [seg for seg in urlsplit(address).path.split("/") if seg]
    if not segments:
        return None
    words = [w for w in re.split(r"[-_]+", segments[-1]) if w and not _SLUG_NOISE.match(w)]
    if not 2 <= len(words) <= 4 or not all(w.isalpha() for w in words):
        return None
    return " ".join(w.capitalize() for w in words)


# Labels of the twitter:labelN / twitter:dataN pairs that some CMSs give the byline in.
_AUTHOR_LABELS = frozenset({"written by", "author", "authors", "by", "autor", "auteur",
                            "geschrieben von", "escrito por", "écrit par"})


def _labelled_authors(tags: MetaTags) -> list[str]:
    """Bylines given as a labelled pair ("twitter:label1" = "Written by", "twitter:data1")."""
    return [value for index in range(1, 5)
            if lenient(first_meta(tags, f"twitter:label{index}") or "") in _AUTHOR_LABELS
            for value in tags.get(f"twitter:data{index}", [])]


def _meta_authors(tags: MetaTags) -> list[tuple[str, str, bool]]:
    """(tag, byline, spelled from an address) from the author meta tags; author-page
    addresses (several may share one tag, comma-joined) stand for the names they spell."""
    found = []
    for key in _META_AUTHOR_TAGS:
        for value in tags.get(key, []):
            addresses = [part.strip() for part in value.split(",")]
            if all(re.match(r"https?://", part) for part in addresses):
                found.extend((key, name, True) for name in map(slug_name, addresses) if name)
            else:
                found.append((key, value, False))
    return found


def _folded(name: str) -> str:
    """Lenient form without accents, to match "Jeremy" with "Jérémy"."""
    return "".join(ch for ch in unicodedata.normalize("NFKD", lenient(name))
                   if not unicodedata.combining(ch))


def _visible_names(tree: HtmlElement, language: str | None) -> dict[str, str]:
    """Names the article's visible byline shows, by their folded form."""
    scope = article_scope(tree)
    raws = _byline_texts(scope) + _visible_byline(tree) + _by_line(scope)
    return {_folded(name): name for raw in raws for name in normalise_author(raw, language)}


def _confirmed(found: list[tuple[str, str, bool]], tree: HtmlElement,
               language: str | None) -> list[str]:
    """Meta bylines checked against the visible byline, when there is reason to: tags
    that disagree ("author" naming the publisher's owner, "article:author" the reporter:
    the tags whose names the byline shows win), or names spelled from an address
    (the byline gives their accents and capitals)."""
    found = [(tag, raw, slug or _is_handle(raw)) for tag, raw, slug in found]
    if len({tag for tag, _, _ in found}) < 2 and not any(slug for _, _, slug in found):
        return [raw for _, raw, _ in found]
    shown = _visible_names(tree, language)
    shown |= {key.replace(" ", ""): name for key, name in shown.items()}
    agreeing = {tag for tag, raw, _ in found
                if any(_folded(n) in shown for n in normalise_author(raw, language))}
    return [shown.get(_folded(raw), raw) if slug else raw
            for tag, raw, slug in found if not agreeing or tag in agreeing]


def _is_handle(raw: str) -> bool:
    """A user name ("mikecason") rather than a name as written ("Mike Cason")."""
    return raw.isalpha() and raw.islower()


def extract_authors(tree: HtmlElement, tags: MetaTags, data: StructuredArticle,
                    publishers: set[str] | None = None,
                    language: str | None = None) -> list[str]:
    """Author names from the most authoritative source that names a person: structured
    data, meta tags, then the byline shown in the article's own header. Names the site
    goes by (`publishers`, in lenient form) are not authors."""
    sources = [
        lambda: data.authors,
        lambda: _confirmed(_meta_authors(tags), tree, language),
        lambda: _byline_texts(article_scope(tree)),
        lambda: _visible_byline(tree),
        lambda: _by_line(article_scope(tree)),
        lambda: _author_links(tree),
        # A labelled pair is a share-card field, sometimes the editor's: after the byline.
        lambda: _labelled_authors(tags),
        lambda: _text_byline(article_scope(tree)),
    ]
    for source in sources:
        names: list[str] = []
        for raw in source():
            for name in normalise_author(raw, language):
                key = lenient(name)
                if names_site(key, publishers or set()):
                    continue
                if key and key not in {lenient(n) for n in names}:
                    names.append(name)
        people = [name for name in names if not _AGENCY_CODE.match(name)
                  and not _ORGANISATION_NAME.search(name)]
        if names:
            return people or names
    return []


def _absolute(value: str | None, base: str) -> str | None:
    value = _clean(value)
    if not value or value.startswith(("data:", "javascript:")):
        return None
    try:
        return urljoin(base, value)
    except ValueError:
        return None


def extract_canonical(tree: HtmlElement, tags: MetaTags, url: str) -> str | None:
    """rel=canonical, else og:url, made absolute against the page address."""
    for link in tree.xpath('//link[@href][contains(concat(" ", normalize-space(@rel), " "),'
                           ' " canonical ")]'):
        found = _absolute(link.get("href"), url)
        if found:
            return found
    return _absolute(first_meta(tags, "og:url", "twitter:url"), url)


def extract_site_name(tags: MetaTags, data: StructuredArticle, site: str | None) -> str | None:
    return _clean(
        first_meta(tags, "og:site_name", "application-name", "twitter:site:name")
        or data.publisher
        or site
    )


def _article_image(tree: HtmlElement) -> str | None:
    """The first sizeable picture inside the <article>, when no metadata names one."""
    for img in tree.xpath("//article//img[@src]"):
        width = img.get("width") or ""
        if width.isdigit() and int(width) < _MIN_IMAGE_WIDTH:
            continue  # icons, avatars, tracking pixels
        return img.get("src")
    return None


def extract_image(tree: HtmlElement, tags: MetaTags, data: StructuredArticle,
                  url: str) -> str | None:
    raw = first_meta(tags, "og:image", "og:image:url", "og:image:secure_url", "twitter:image",
                     "twitter:image:src") or data.image or _article_image(tree)
    return _absolute(raw, url)


def extract_description(tags: MetaTags, data: StructuredArticle) -> str | None:
    return _clean(
        first_meta(tags, "og:description", "description", "twitter:description")
        or data.description
    )
