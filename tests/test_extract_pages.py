"""Extraction on page shapes unlike the ones it was first built on: other scripts, other
templates, metadata in other conventions. Each page here is small and written for the test."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from crawler.extract import extract_article

ZH_PARAGRAPHS = [
    "市政府周一宣布，将在明年春天开始扩建城市北部的有轨电车线路，预计工程将持续三年时间。",
    "支持者表示，新线路将使数千名居民的通勤时间缩短一半，这些居民目前依赖拥挤的公交车。",
    "反对者则警告说，自从第一份规划出台以来，预算已经增加了两倍，并要求进行独立的成本审查。",
]
JA_PARAGRAPHS = [
    "市議会は月曜日、路面電車を北部の郊外まで延伸する計画を承認した。十年以上議論されてきた事業だ。",
    "賛成派は、新しい路線により混雑したバスに頼る数千人の住民の通勤時間が半分になると述べた。",
    "反対派は、最初の計画以来予算が二倍に膨らんだと警告し、費用の独立した検証を求めた。",
]
EN_PARAGRAPHS = [
    "The city council voted on Monday to expand the tram network to the northern "
    "suburbs, a project that has been debated for more than a decade.",
    "Supporters said the new line would cut commuting times by half for thousands of "
    "residents who currently rely on crowded buses along the ring road.",
    "Opponents warned that the budget had already grown twice since the first plans "
    "were drawn up and asked for an independent review of the costs.",
]


def page(paragraphs: list[str], *, lang: str = "en", head: str = "", title: str = "Tram plan",
         byline: str = "", before: str = "", after: str = "", h1: str | None = None) -> str:
    body = "\n".join(f"<p>{p}</p>" for p in paragraphs)
    return f"""<!doctype html><html lang="{lang}"><head><meta charset="utf-8">
<title>{title}</title>{head}</head><body>{before}
<article><h1>{h1 if h1 is not None else title}</h1>{byline}
<div class="article-body">{body}</div></article>{after}
<footer><p>© City Paper.</p></footer></body></html>"""


def test_chinese_article_keeps_its_body() -> None:
    result = extract_article(page(ZH_PARAGRAPHS, lang="zh", title="有轨电车扩建"),
                             "https://shibao.example/news/1.html")

    assert result.error is None
    for paragraph in ZH_PARAGRAPHS:
        assert paragraph in result.body


def test_japanese_article_keeps_its_body() -> None:
    result = extract_article(page(JA_PARAGRAPHS, lang="ja", title="路面電車を延伸"),
                             "https://shimbun.example/articles/1")

    assert result.error is None
    assert JA_PARAGRAPHS[0] in result.body


def test_a_few_cjk_characters_are_still_no_article() -> None:
    result = extract_article(page(["市政府周一宣布。"], lang="zh", title="短讯"),
                             "https://shibao.example/news/2.html")

    assert result.error is not None


def test_publisher_given_as_author_is_not_an_author() -> None:
    head = ('<meta property="og:site_name" content="Stadtblatt">'
            '<meta name="author" content="STADTBLATT.de">')
    result = extract_article(page(EN_PARAGRAPHS, head=head), "https://www.stadtblatt.de/a/1")

    assert result.authors == []


def test_publisher_from_structured_data_is_not_an_author() -> None:
    head = ('<script type="application/ld+json">{"@type": "NewsArticle", "headline": "Tram plan",'
            ' "author": [{"name": "Deutsche Rundschau"}, {"name": "Anna Schmidt"}],'
            ' "publisher": {"name": "Deutsche Rundschau"}}</script>')
    result = extract_article(page(EN_PARAGRAPHS, head=head), "https://rundschau.example/a/1")

    assert result.authors == ["Anna Schmidt"]


def test_names_joined_by_the_pages_conjunction_are_split() -> None:
    cases = [("de", "Anna Schmidt und Peter Meier"), ("fr", "Anna Schmidt et Peter Meier"),
             ("es", "Anna Schmidt y Peter Meier"), ("no", "Anna Schmidt og Peter Meier"),
             ("pt", "Anna Schmidt e Peter Meier"), ("en", "Anna Schmidt and Peter Meier")]
    for lang, byline in cases:
        head = f'<meta name="author" content="{byline}">'
        result = extract_article(page(EN_PARAGRAPHS, lang=lang, head=head),
                                 "https://paper.example/a/1")
        assert result.authors == ["Anna Schmidt", "Peter Meier"], lang


def test_byline_in_the_article_header_is_found_without_metadata() -> None:
    byline = '<div class="byline">By <span class="author-name">Maria Lopez</span></div>'
    result = extract_article(page(EN_PARAGRAPHS, byline=byline), "https://paper.example/a/1")

    assert result.authors == ["Maria Lopez"]


def test_bylines_of_teaser_cards_elsewhere_are_not_authors() -> None:
    teasers = "".join(
        f'<div class="teaser"><a href="/b/{i}">Other story {i}</a>'
        f'<span class="author-name">Teaser Writer{i}</span></div>' for i in range(3))
    byline = '<div class="byline"><span class="author-name">Maria Lopez</span></div>'
    result = extract_article(page(EN_PARAGRAPHS, byline=byline, before=teasers, after=teasers),
                             "https://paper.example/a/1")

    assert result.authors == ["Maria Lopez"]


def _ld(**fields: str) -> str:
    import json
    return ('<script type="application/ld+json">'
            + json.dumps({"@type": "NewsArticle", **fields}) + "</script>")


def test_h1_and_headline_agreeing_outvote_a_social_og_title() -> None:
    head = ('<meta property="og:title" content="You won\'t believe what the council did">'
            + _ld(headline="Council approves tram extension"))
    result = extract_article(page(EN_PARAGRAPHS, head=head, title="Tram | City Paper",
                                  h1="Council approves tram extension"),
                             "https://paper.example/a/1")

    assert result.title == "Council approves tram extension"


def test_og_title_cut_short_gives_way_to_the_full_h1() -> None:
    h1 = "Council approves tram extension to the northern suburbs after a decade of debate"
    head = '<meta property="og:title" content="Council approves tram extension to the northern">'
    result = extract_article(page(EN_PARAGRAPHS, head=head, title="x", h1=h1),
                             "https://paper.example/a/1")

    assert result.title == h1


def test_site_name_and_date_glued_on_the_title_are_cut() -> None:
    cases = [
        ("https://www.dw.com/en/a-1", '<meta property="og:site_name" content="Deutsche Welle">',
         "Tram plan approved – DW – 30.01.2024", "Tram plan approved"),
        ("https://www.welt.de/a/1", "", "Tram plan approved - WELT", "Tram plan approved"),
        ("https://digital.asahi.example/a/1",
         '<meta property="og:site_name" content="朝日新聞デジタル">',
         "路面電車の延伸を承認：朝日新聞デジタル", "路面電車の延伸を承認"),
        ("https://blog.example/a/1", '<meta property="og:site_name" content="Blog Example">',
         "Tram plan approved | by Maria Lopez | Blog Example", "Tram plan approved"),
        ("https://paper.example/a/1", '<meta property="og:site_name" content="The City Paper">',
         "The City Paper: Tram plan approved", "Tram plan approved"),
    ]
    for url, head, og_title, expected in cases:
        head += f'<meta property="og:title" content="{og_title}">'
        result = extract_article(page(EN_PARAGRAPHS, head=head, title=og_title, h1=""), url)
        assert result.title == expected, og_title


def test_a_title_with_a_colon_or_dash_of_its_own_stays_whole() -> None:
    title = "Trams: the debate - and the cost"
    head = f'<meta property="og:title" content="{title}">'
    result = extract_article(page(EN_PARAGRAPHS, head=head, title=title, h1=""),
                             "https://paper.example/a/1")

    assert result.title == title


def test_published_meta_spelling_variants_are_read() -> None:
    for key in ("article:published:time", "publish_date", "article.published_time"):
        head = f'<meta property="{key}" content="2024-01-30T09:15:00+01:00">'
        result = extract_article(page(EN_PARAGRAPHS, head=head), "https://paper.example/a/1")
        assert result.published == datetime(2024, 1, 30, 8, 15, tzinfo=UTC), key
        assert result.published_precision == "time"


def test_a_date_only_value_is_kept_as_a_date() -> None:
    head = '<meta property="article:published_time" content="2024-01-30">'
    result = extract_article(page(EN_PARAGRAPHS, head=head), "https://paper.example/a/1")

    assert result.published is not None
    assert result.published.date() == date(2024, 1, 30)
    assert result.published_precision == "day"


def test_a_stated_time_keeps_its_offset_and_precision() -> None:
    head = _ld(headline="Tram plan", datePublished="2024-01-30T23:30:00+09:00")
    result = extract_article(page(EN_PARAGRAPHS, head=head), "https://paper.example/a/1")

    assert result.published is not None
    assert result.published.utcoffset() == timedelta(hours=9)
    assert result.published.date() == date(2024, 1, 30)
    assert result.published_precision == "time"


def test_a_date_in_the_url_is_a_day_not_a_midnight() -> None:
    result = extract_article(page(EN_PARAGRAPHS), "https://paper.example/2024/01/30/tram/")

    assert result.published is not None and result.published.date() == date(2024, 1, 30)
    assert result.published_precision == "day"


def test_a_date_only_value_takes_the_time_of_an_agreeing_stated_one() -> None:
    head = '<meta property="article:published_time" content="2024-01-30">'
    byline = '<time class="published" datetime="2024-01-30T10:00:00+01:00">30 Jan</time>'
    result = extract_article(page(EN_PARAGRAPHS, head=head, byline=byline),
                             "https://paper.example/a/1")

    assert result.published == datetime(2024, 1, 30, 9, 0, tzinfo=UTC)
    assert result.published_precision == "time"


def _form_page(paragraphs: list[str], *, as_divs: bool) -> str:
    tag = "div" if as_divs else "p"
    body = "\n".join(f"<{tag}>{p}</{tag}>" for p in paragraphs)
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Tram plan</title></head><body>
<form method="post" action="./story.aspx?id=7" id="aspnetForm">
<input type="hidden" name="__VIEWSTATE" value="dDwtMTA4NzM0">
<div id="header"><a href="/">Home</a> <a href="/city/">City</a></div>
<div id="ctl00_content"><h1>Tram plan</h1><div class="storytext">{body}</div></div>
<div id="footer">© City Paper</div></form></body></html>"""


def test_a_page_wrapped_in_one_big_form_keeps_its_body() -> None:
    for as_divs in (False, True):
        result = extract_article(_form_page(EN_PARAGRAPHS, as_divs=as_divs),
                                 "https://paper.example/story.aspx?id=7")
        assert result.error is None, as_divs
        for paragraph in EN_PARAGRAPHS:
            assert paragraph in result.body, as_divs


def test_a_small_form_beside_the_article_is_still_dropped() -> None:
    form = ('<form class="newsletter-box"><p>Get our morning briefing with the day\'s '
            'most important stories delivered to your inbox every day.</p>'
            '<input name="email"><button>Sign up</button></form>')
    result = extract_article(page(EN_PARAGRAPHS, after=form), "https://paper.example/a/1")

    assert EN_PARAGRAPHS[0] in result.body
    assert "morning briefing" not in result.body


NEXT_STORY = [
    "Harbour City lifted the regional cup on Saturday after a tense final that went to "
    "penalties in front of a record crowd at the waterfront stadium.",
    "The home side fell behind early when the visitors scored from a corner, but levelled "
    "before the break through a long-range strike from their captain.",
    "Neither team could find a winner in extra time, and the goalkeeper saved two penalties "
    "in the shoot-out to send the trophy back to the harbour for the first time.",
    "The coach said the victory belonged to the supporters who had followed the team through "
    "three difficult seasons in the lower division before this year's promotion.",
    "Celebrations went on late into the night along the quay, where thousands gathered to "
    "greet the players as their open-top bus made its way through the old town.",
    "The club will now enter the national cup in the autumn, its first appearance in the "
    "competition in more than twenty years, officials confirmed on Sunday.",
]


def _two_story_page(first: str) -> str:
    main = ("<article><h1>Council approves tram extension</h1>"
            + "".join(f"<p>{p}</p>" for p in EN_PARAGRAPHS) + "</article>")
    other = ('<article class="next-article"><h2>Harbour City lift regional cup</h2>'
             + "".join(f"<p>{p}</p>" for p in NEXT_STORY) + "</article>")
    stories = other + main if first == "next" else main + other
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Council approves tram extension | City Paper</title>
<meta property="og:title" content="Council approves tram extension"></head>
<body><main>{stories}</main></body></html>"""


def test_a_second_full_article_on_the_page_does_not_replace_the_main_one() -> None:
    for first in ("main", "next"):
        result = extract_article(_two_story_page(first),
                                 "https://paper.example/news/council-approves-tram-extension")
        assert result.title == "Council approves tram extension"
        for paragraph in EN_PARAGRAPHS:
            assert paragraph in result.body, first
        assert "penalties" not in result.body, first


def test_a_table_in_the_article_is_kept_one_cell_per_line() -> None:
    table = ("<table><tr><th>Line</th><th>Opening</th></tr>"
             "<tr><td>Northern extension</td><td>2029</td></tr>"
             "<tr><td>Harbour loop</td><td>2031</td></tr></table>")
    result = extract_article(page([*EN_PARAGRAPHS, table]), "https://paper.example/a/1")

    lines = result.body.splitlines()
    assert "Northern extension" in lines and "Harbour loop" in lines
    assert EN_PARAGRAPHS[0] in lines


def test_a_paragraph_wrapped_in_a_named_anchor_is_text_not_a_link() -> None:
    anchored = [f'<a id="p{i}">{p}</a>' for i, p in enumerate(EN_PARAGRAPHS)]
    result = extract_article(page(anchored), "https://paper.example/a/1")

    for paragraph in EN_PARAGRAPHS:
        assert paragraph in result.body


def assert_authors_of_meta_bylines(cases: list[tuple[str, list[str]]]) -> None:
    """Each byline given as the page's author meta tag yields exactly its expected authors."""
    for byline, expected in cases:
        head = f'<meta name="author" content="{byline}">'
        result = extract_article(page(EN_PARAGRAPHS, head=head), "https://paper.example/a/1")
        assert result.authors == expected, byline


def test_byline_junk_around_the_name_is_dropped() -> None:
    cases = [("por Ana García", ["Ana García"]), ("Maria Lopez Updated", ["Maria Lopez"]),
             ("Maria Lopez Dec 19", ["Maria Lopez"]), ("Maria Lopez Staff Writer", ["Maria Lopez"]),
             ("Maria Lopez CITY PAPER NEWS", ["Maria Lopez"]),
             ("Maria Lopez Edited by Tom Baker", ["Maria Lopez"]),
             ("文● 山田太郎／編集部", ["山田太郎"]), ("See full bio", [])]
    assert_authors_of_meta_bylines(cases)


def test_surnames_that_begin_like_a_month_are_kept_whole() -> None:
    cases = [("Jane Mayer", ["Jane Mayer"]), ("Paul Martin", ["Paul Martin"]),
             ("Daniel Marans and Liz Skalka", ["Daniel Marans", "Liz Skalka"]),
             ("Tom May", ["Tom May"]), ("Joshua Sokol May", ["Joshua Sokol"]),
             # a first name alone that is also a month's abbreviation
             ("Jan", ["Jan"]), ("Jan and Maria Lopez", ["Jan", "Maria Lopez"])]
    assert_authors_of_meta_bylines(cases)


def test_byline_labels_contacts_and_reading_times_are_not_part_of_the_name() -> None:
    cases = [("Posted by Maria Lopez", ["Maria Lopez"]), ("Autor: Jan Kowalski", ["Jan Kowalski"]),
             ("Автор: Иван Петров", ["Иван Петров"]),
             ("Maria Lopez maria.lopez@paper.example", ["Maria Lopez"]),
             ("Maria Lopez @mlopez", ["Maria Lopez"]),
             ("Maria Lopez · 5 min read · Oct 15, 2015", ["Maria Lopez"]),
             ("Maria Lopez, Ph.D.", ["Maria Lopez"]),
             ("Reporting by Maria Lopez; Editing by Tom Baker", ["Maria Lopez"]),
             ("Maria Lopez For The Daily Planet", ["Maria Lopez"]),
             ("Maria Lopez, The Daily Planet", ["Maria Lopez"]),
             ("Maria Lopez, Associated Press", ["Maria Lopez"])]
    assert_authors_of_meta_bylines(cases)


def test_byline_labels_in_other_forms_and_languages_are_not_names() -> None:
    """Labels with no colon, label-only bylines, other credits and publish labels in the
    page's language, as templates print them in every language."""
    cases = [("View all posts by Maria Lopez", ["Maria Lopez"]),
             ("Authors Maria Lopez, Tom Baker", ["Maria Lopez", "Tom Baker"]),
             ("Автор Иван Петров", ["Иван Петров"]),
             ("Maria Lopez publié le", ["Maria Lopez"]),
             ("Jan Kowalski Publiziert am", ["Jan Kowalski"]),
             ("Maria Lopez, DVM Reviewed by Tom Baker", ["Maria Lopez"]),
             ("Maria Lopez, Apr 7", ["Maria Lopez"]),
             ("Written by", []), ("Researched by", []), ("About the Author", []),
             ("No Author", []), ("undefined", []), ("Replying", []),
             ("Редактор: Иван Петров", []), ("Developed By Maria Lopez", [])]
    assert_authors_of_meta_bylines(cases)


def test_an_inline_script_leaves_the_words_around_it_in_the_body() -> None:
    paragraphs = [EN_PARAGRAPHS[0],
                  'Supporters said <script>var tracker = "x";</script>the new line would cut '
                  "commuting times by half for thousands of residents.",
                  EN_PARAGRAPHS[2]]
    result = extract_article(page(paragraphs), "https://paper.example/a/1")
    assert "Supporters said the new line would cut commuting times" in result.body
    assert "tracker" not in result.body


def test_a_chinese_byline_in_the_text_is_found() -> None:
    paragraphs = [*ZH_PARAGRAPHS, "（记者 李明、王芳）"]
    result = extract_article(page(paragraphs, lang="zh", title="有轨电车扩建"),
                             "https://shibao.example/news/1.html")

    assert result.authors == ["李明", "王芳"]


def test_an_editor_in_a_chinese_byline_is_not_an_author() -> None:
    paragraphs = [*ZH_PARAGRAPHS, "责任编辑：张伟"]
    result = extract_article(page(paragraphs, lang="zh", title="有轨电车扩建"),
                             "https://shibao.example/news/1.html")

    assert result.authors == []


def test_commenters_marked_as_authors_are_not_the_article_authors() -> None:
    comments = ('<section class="comments">' + "".join(
        f'<div class="comment"><span itemprop="author">Reader{i} Name</span><p>Nice.</p></div>'
        for i in range(3)) + "</section>")
    byline = '<a rel="author" href="/staff/maria">Maria Lopez</a>'
    result = extract_article(page([*EN_PARAGRAPHS, comments], byline=byline),
                             "https://paper.example/a/1")

    assert result.authors == ["Maria Lopez"]


def test_a_plain_by_line_names_the_author() -> None:
    byline = '<div class="x7"><span>By </span><a href="/profile/maria">Maria Lopez</a></div>'
    result = extract_article(page(EN_PARAGRAPHS, byline=byline), "https://paper.example/a/1")

    assert result.authors == ["Maria Lopez"]


def test_a_short_paragraph_opening_with_by_is_not_a_byline() -> None:
    result = extract_article(page(["By the end of the year, trams will run.", *EN_PARAGRAPHS]),
                             "https://paper.example/a/1")

    assert result.authors == []


def test_author_meta_written_with_a_value_attribute_is_read() -> None:
    head = '<meta name="author" value="Maria Lopez">'
    result = extract_article(page(EN_PARAGRAPHS, head=head), "https://paper.example/a/1")

    assert result.authors == ["Maria Lopez"]


# --- dates shown beside the headline, site names, bylines in other conventions --------


def test_a_date_printed_beside_the_headline_dates_a_page_without_date_metadata() -> None:
    result = extract_article(
        page(EN_PARAGRAPHS[:2] * 2, lang="es", title="Plan del tranvía",
             byline="<p class='fecha'>jueves 2 de abril de 2020</p>",
             after="<p>Copyright 2016</p>"),
        "https://diario.example/noticias/tranvia")

    assert result.published is not None
    assert result.published.date() == date(2020, 4, 2)
    assert result.published_precision == "day"


def test_a_date_far_below_the_headline_in_running_text_is_not_the_publish_date() -> None:
    prose = ("The plan was first published on January 18, 2011 and debated for a "
             "decade before the council finally voted on it this week in a long session.")
    result = extract_article(page([*EN_PARAGRAPHS, prose]), "https://paper.example/tram")

    assert result.published is None


def test_a_year_first_date_beside_the_headline_dates_a_page_that_declares_no_language() -> None:
    result = extract_article(
        page(JA_PARAGRAPHS, lang="", title="路面電車を延伸",
             byline="<p class='entry-date'>投稿日：2019年04月04日 09:00</p>"),
        "https://blog.example/archives/treeviz.html")

    assert result.published is not None
    assert result.published.date() == date(2019, 4, 4)
    assert result.published_precision == "day"


def test_a_date_in_the_headline_is_the_subject_not_the_publish_date() -> None:
    result = extract_article(
        page(JA_PARAGRAPHS, lang="ja", title="週末の勝ち馬紹介",
             h1="週末の勝ち馬紹介(2020年7月11日～12日)",
             byline="<p class='entry-date'>2020年07月12日</p>"),
        "https://blog.example/e/52743e20")

    assert result.published is not None
    assert result.published.date() == date(2020, 7, 12)


def test_json_ld_wrapped_in_a_bare_cdata_section_is_read() -> None:
    ld = ('<script type="application/ld+json"><![CDATA[{"@type": "NewsArticle", '
          '"datePublished": "2015-10-15T02:19:15Z"}]]></script>')
    head = '<meta property="article:published_time" content="2015-12-11T14:28:34Z">' + ld
    result = extract_article(page(EN_PARAGRAPHS, head=head), "https://paper.example/tram")

    assert result.published == datetime(2015, 10, 15, 2, 19, 15, tzinfo=UTC)


def test_a_stated_time_beats_a_date_only_value_one_day_earlier() -> None:
    # The day in the publisher's zone (5:00 on the 19th, +02:00) is the 19th; a date-only
    # value of the 18th beside it is not an earlier first publication.
    ld = ('<script type="application/ld+json">{"@type": "NewsArticle", '
          '"datePublished": "2019-10-19T03:00:00Z"}</script>')
    head = '<meta name="datePublished" content="2019-10-18">' + ld
    result = extract_article(page(EN_PARAGRAPHS, head=head), "https://paper.example/tram")

    assert result.published == datetime(2019, 10, 19, 3, 0, tzinfo=UTC)
    assert result.published_precision == "time"


def test_a_date_tag_holding_the_update_time_is_not_the_publish_date() -> None:
    head = ('<meta property="og:updated_time" content="2024-07-05T14:20:08-04:00">'
            '<meta name="DC.date" content="2024-07-05T14:20:08Z">')
    byline = '<time class="page-date" datetime="2024-03-01 05:00:00">March 1, 2024</time>'
    result = extract_article(page(EN_PARAGRAPHS, head=head, byline=byline),
                             "https://agency.example/nutrition/tips.html")

    assert result.published is not None and result.published.date() == date(2024, 3, 1)


def test_an_unedited_page_keeps_its_declared_time_beside_an_older_story_time() -> None:
    """JSON-LD stating the same published and modified time is a page never updated: its
    publish time is not taken for an update and given up for another story's <time>."""
    head = ('<script type="application/ld+json">{"@type": "NewsArticle", "headline": '
            '"Tram plan", "datePublished": "2024-07-05T09:00:00+02:00", '
            '"dateModified": "2024-07-05T09:00:00+02:00"}</script>'
            '<meta property="article:published_time" content="2024-07-05T09:00:00+02:00">')
    related = '<aside><time datetime="2024-06-20T08:00:00+02:00">June 20</time></aside>'
    result = extract_article(page(EN_PARAGRAPHS, head=head, after=related),
                             "https://agency.example/city/tram-plan.html")

    assert result.published is not None and result.published.date() == date(2024, 7, 5)


def test_an_unedited_page_with_only_meta_tags_keeps_its_declared_time() -> None:
    head = ('<meta property="article:published_time" content="2024-07-05T09:00:00+02:00">'
            '<meta property="article:modified_time" content="2024-07-05T09:00:00+02:00">')
    related = '<aside><time datetime="2024-06-20T08:00:00+02:00">June 20</time></aside>'
    result = extract_article(page(EN_PARAGRAPHS, head=head, after=related),
                             "https://agency.example/city/tram-plan.html")

    assert result.published is not None and result.published.date() == date(2024, 7, 5)


def test_the_print_day_in_the_url_does_not_override_a_time_with_its_local_offset() -> None:
    head = '<meta property="article:published" content="2016-07-29T16:42:34-04:00">'
    result = extract_article(page(EN_PARAGRAPHS, head=head),
                             "https://paper.example/2016/07/30/business/tram-plan.html")

    assert result.published == datetime(2016, 7, 29, 20, 42, 34, tzinfo=UTC)
    assert result.published_precision == "time"


def test_a_utc_time_takes_the_zone_of_the_local_time_the_page_shows_for_it() -> None:
    ld = ('<script type="application/ld+json">{"@type": "NewsArticle", '
          '"datePublished": "2019-10-18T22:30:00Z"}</script>')
    byline = '<time datetime="2019-10-18T22:30:00Z">19.10.2019, 00:30 Uhr</time>'
    result = extract_article(page(EN_PARAGRAPHS, lang="de", head=ld, byline=byline),
                             "https://zeitung.example/kultur/tram")

    assert result.published == datetime(2019, 10, 18, 22, 30, tzinfo=UTC)
    assert result.published is not None
    assert result.published.utcoffset() == timedelta(hours=2)
    assert result.published.date() == date(2019, 10, 19)


def test_a_title_suffix_naming_the_domain_is_cut_though_the_site_name_is_unknown() -> None:
    result = extract_article(
        page(EN_PARAGRAPHS, title="Council backs tram plan • The Nutrition Source",
             h1="Council backs tram plan"),
        "https://nutritionsource.example.org/tram-plan/")

    assert result.title == "Council backs tram plan"


def test_a_site_name_glued_to_the_headline_without_separator_is_cut() -> None:
    result = extract_article(
        page(EN_PARAGRAPHS, title="Council backs tram plan » Local » Ultima Hora",
             head='<meta name="twitter:title" content="Council backs tram plan">',
             h1="Council backs tram plan<span>Ultima Hora</span>"),
        "https://ultimahora.example/local/tram.html")

    assert result.title == "Council backs tram plan"


def test_an_h1_holding_the_site_name_is_not_the_headline() -> None:
    result = extract_article(
        page(ZH_PARAGRAPHS, lang="zh", title="有轨电车扩建计划获批_城市_好奇心日报",
             h1="好奇心日报"),
        "https://qdaily.example/articles/38282.html")

    assert result.title == "有轨电车扩建计划获批"


def test_an_h1_that_is_a_segment_of_the_og_title_is_the_headline() -> None:
    result = extract_article(
        page(EN_PARAGRAPHS, title="Purple Rain Lyrics | Lyrics Site",
             head='<meta property="og:title" content="Prince and the Revolution – Purple Rain">',
             h1="Purple Rain"),
        "https://lyrics.example/purple-rain")

    assert result.title == "Purple Rain"


def test_a_surname_first_byline_is_turned_round() -> None:
    result = extract_article(
        page(EN_PARAGRAPHS, head='<meta name="parsely-author" content="Gillman, Steve">'),
        "https://paper.example/tram")

    assert result.authors == ["Steve Gillman"]


def test_an_agency_code_beside_a_name_is_not_an_author() -> None:
    result = extract_article(
        page(EN_PARAGRAPHS, head='<meta name="author" content="Saibal Dasgupta, TNN">'),
        "https://paper.example/tram")

    assert result.authors == ["Saibal Dasgupta"]


def test_an_organisation_in_the_structured_author_list_is_not_an_author() -> None:
    ld = ('<script type="application/ld+json">{"@type": "NewsArticle", "headline": "Tram plan",'
          ' "author": [{"@type": "Person", "name": "Jane Doe"},'
          ' {"@type": "Organization", "name": "Springfield Media Group"}]}</script>')
    result = extract_article(page(EN_PARAGRAPHS, head=ld), "https://paper.example/tram")

    assert result.authors == ["Jane Doe"]


def test_author_page_addresses_name_the_authors_with_the_bylines_spelling() -> None:
    head = ('<meta property="article:author" content="https://paper.example/auteur/'
            '5631-alexandre-hervaud,https://paper.example/auteur/17350-jeremy-piette">')
    result = extract_article(
        page(EN_PARAGRAPHS, lang="fr", head=head,
             byline="<p>Par Alexandre Hervaud et Jérémy Piette</p>"),
        "https://paper.example/tram")

    assert result.authors == ["Alexandre Hervaud", "Jérémy Piette"]


def test_the_author_tag_whose_name_the_byline_shows_beats_the_owners_name() -> None:
    head = ('<meta name="author" content="Conde Holdings">'
            '<meta property="article:author" content="Larry Fitzmaurice">')
    result = extract_article(
        page(EN_PARAGRAPHS, head=head, byline='<p class="byline">By Larry Fitzmaurice</p>'),
        "https://reviews.example/albums/1")

    assert result.authors == ["Larry Fitzmaurice"]


def test_a_date_glued_to_the_byline_name_is_dropped() -> None:
    result = extract_article(
        page(EN_PARAGRAPHS, byline="<div>By Teresa NewsomeDec. 2, 2016</div>"),
        "https://paper.example/tram")

    assert result.authors == ["Teresa Newsome"]


def test_affiliations_after_a_job_title_in_the_byline_are_not_authors() -> None:
    byline = ('<div class="blog-author">By Daniel Kahn Gillmor, Senior Staff Technologist, '
              'Speech, Privacy, and Technology Project</div>')
    result = extract_article(page(EN_PARAGRAPHS, byline=byline), "https://blog.example/p/1")

    assert result.authors == ["Daniel Kahn Gillmor"]


def test_a_placeholder_marked_as_author_gives_way_to_the_real_byline() -> None:
    byline = ('<form><span class="username">Username</span></form>'
              '<span class="pb-byline">By Erin Cunningham</span>')
    result = extract_article(page(EN_PARAGRAPHS, byline=byline), "https://paper.example/w/1")

    assert result.authors == ["Erin Cunningham"]


def test_a_recipe_card_in_the_article_is_kept() -> None:
    card = ('<div class="recipe-card"><h2>Sourdough loaf</h2><ul>'
            '<li>500 grams of bread flour, sifted twice before mixing</li>'
            '<li>350 grams of water at room temperature, added slowly</li>'
            '<li>100 grams of active starter fed the night before</li></ul></div>')
    with_card = extract_article(
        page(EN_PARAGRAPHS).replace('<div class="article-body">',
                                    f'<div class="article-body">{card}'),
        "https://recipes.example/loaf")

    assert "350 grams of water at room temperature, added slowly" in with_card.body


def test_a_link_keeps_the_space_before_the_following_word() -> None:
    # Text straight in the body <div>, lines ended by <br>: trafilatura splits the lines
    # at the links and drops the space after each.
    post = ("I have written a couple of posts in the past few months but they were all for "
            '<a href="https://work.example/blog">the blog at work</a> so I figured I am long '
            "overdue for one here.<br /><h2>So what is a GreenPak?</h2>Silego Technology is a "
            "fabless semiconductor company located in the Bay area, which makes a line of "
            'programmable logic devices known as GreenPak. Their <a href="https://silego.example'
            '/g5">5th generation parts</a> were just announced, but I started this project '
            "before that happened.<br /><br />GreenPak devices are kind of like itty bitty PSoCs "
            "with a mixed signal fabric, comparators and voltage references.<br/>")
    html = ('<html><head><title>GreenPak</title></head><body><article><h1>GreenPak</h1>'
            f'<div class="post-body entry-content">{post}</div></article></body></html>')
    result = extract_article(html, "https://blog.example/2016/05/greenpak.html")

    assert "the blog at work so I figured" in result.body
    assert "5th generation parts were just announced" in result.body


def test_the_date_beside_a_blogs_post_heading_is_found_under_the_blog_name_h1() -> None:
    html = ("<html><head><title>Advent of Code week 2</title></head><body>"
            "<header><h1>Roger's Blog</h1><ul>"
            + "".join(f"<li><a href='/tag/{n}'>Tag {n}</a></li>" for n in range(40))
            + "</ul></header><main>"
            "<h2>Advent of Code week 2</h2><p>20 December 2025</p>"
            + "".join(f"<p>{p}</p>" for p in EN_PARAGRAPHS) + "</main></body></html>")
    result = extract_article(html, "https://blog.example/posts/aoc-2")

    assert result.published is not None
    assert result.published.date() == date(2025, 12, 20)


def test_a_menu_of_links_before_the_story_is_not_body() -> None:
    # A layout table of links above the story, as older portals have.
    menu = "<table><tr>" + "".join(
        f"<td><a href='/s/{n}'>{name}</a></td>" for n, name in enumerate(
            ["Home", "City profile", "Open data", "Services", "Contact us"])) + "</tr></table>"
    html = page(EN_PARAGRAPHS * 2).replace('<div class="article-body">',
                                           f'<div class="article-body">{menu}')
    result = extract_article(html, "https://gov.example/news/1.html")

    assert EN_PARAGRAPHS[0] in result.body
    assert "City profile" not in result.body


def test_a_heading_linking_to_itself_is_kept() -> None:
    parts = []
    for n, paragraph in enumerate(EN_PARAGRAPHS):
        parts.append(f'<h3 id="s{n}"><a href="#s{n}">Section heading {n}</a></h3>'
                     f"<p>{paragraph}</p>")
    html = page([]).replace('<div class="article-body">',
                            '<div class="article-body">' + "".join(parts))
    result = extract_article(html, "https://guide.example/music")

    assert "Section heading 1" in result.body


# --- bylines: credits, labelled pairs, handles, the publisher's domain --------------------


def test_translators_and_illustrators_in_a_byline_are_not_authors() -> None:
    cases = [("Eric Freeman　著、嶋田 健志　監訳、木下 哲也　訳", ["Eric Freeman"]),
             ("著者 山田太郎 イラスト 佐藤花子", ["山田太郎"]),
             ("Maria Lopez, Photos by Tom Baker", ["Maria Lopez"])]
    assert_authors_of_meta_bylines(cases)


def test_a_byline_given_as_a_labelled_share_card_field_is_read() -> None:
    head = ('<meta name="twitter:label1" value="Written by">'
            '<meta name="twitter:data1" value="Maria Lopez">'
            '<meta name="twitter:label2" value="Reading time">'
            '<meta name="twitter:data2" value="2 min read">')
    result = extract_article(page(EN_PARAGRAPHS, head=head), "https://pulse.example/p/1")

    assert result.authors == ["Maria Lopez"]


def test_a_user_name_in_the_author_tag_takes_the_bylines_spelling() -> None:
    result = extract_article(
        page(EN_PARAGRAPHS, head='<meta name="sailthru.author" content="marialopez">',
             byline='<div class="byline">By Maria Lopez | mlopez@paper.example</div>'),
        "https://paper.example/a/1")

    assert result.authors == ["Maria Lopez"]


def test_a_name_of_the_publishers_domain_is_not_an_author() -> None:
    head = '<meta name="author" content="GAZETTE">'
    result = extract_article(page(EN_PARAGRAPHS, head=head,
                                  byline='<p class="byline">By Maria Lopez</p>'),
                             "https://weekly.gazette.example/a/1")

    assert result.authors == ["Maria Lopez"]


def test_links_to_the_writers_own_pages_name_the_authors() -> None:
    byline = ('<div class="meta"><a href="/author/180/">著者：山田太郎</a>、'
              '<a href="/author/181/">佐藤花子</a></div>')
    teasers = ('<aside><ul><li><a href="/author/7/">Other Writer</a></li></ul></aside>')
    result = extract_article(page(JA_PARAGRAPHS, lang="ja", byline=byline, after=teasers),
                             "https://news.example.jp/article/1/")

    assert result.authors == ["山田太郎", "佐藤花子"]


# --- dates: day-first numbers, CMS-prefixed tags, the day in the address -----------------


def test_a_dotted_date_beside_the_headline_is_read_day_first() -> None:
    result = extract_article(
        page(EN_PARAGRAPHS, lang="de", title="Straßenbahn", byline="<dl><dt>Datum</dt>"
             "<dd>12.01.2017</dd></dl>"),
        "https://blog.example/strassenbahn")

    assert result.published is not None and result.published.date() == date(2017, 1, 12)


def test_a_publish_date_tag_with_a_cms_prefix_is_read() -> None:
    for key, value in (("bt:pubdate", "20240130T09:15:00Z"), ("sb:publish_date",
                                                               "2024-01-30T09:15:0Z")):
        head = f'<meta name="{key}" content="{value}">'
        result = extract_article(page(EN_PARAGRAPHS, head=head), "https://paper.example/a/1")
        assert result.published == datetime(2024, 1, 30, 9, 15, tzinfo=UTC), key


def test_the_day_in_the_address_outweighs_a_utc_time_past_midnight() -> None:
    head = _ld(headline="Tram plan", datePublished="2024-01-31T02:18:11Z")
    result = extract_article(page(EN_PARAGRAPHS, head=head),
                             "https://paper.example/2024/01/30/tram-plan/")

    assert result.published is not None and result.published.date() == date(2024, 1, 30)
    assert result.published_precision == "day"


def test_a_stated_time_on_the_day_in_the_address_keeps_its_time() -> None:
    head = _ld(headline="Tram plan", datePublished="2024-01-30T22:18:11-05:00")
    result = extract_article(page(EN_PARAGRAPHS, head=head),
                             "https://paper.example/2024/01/30/tram-plan/")

    assert result.published == datetime(2024, 1, 31, 3, 18, 11, tzinfo=UTC)
    assert result.published_precision == "time"


# --- titles: the displayed headline over the metadata's rewrite ---------------------------


def test_the_pages_only_h1_beats_a_rewritten_title_for_sharing() -> None:
    shared = "Council tram vote: what it means for commuters | City Paper"
    head = (f'<meta property="og:title" content="{shared}">'
            f'<meta name="twitter:title" content="{shared}">')
    result = extract_article(
        page(EN_PARAGRAPHS, head=head, title=shared, h1="Broken pledge on the tram budget"),
        "https://paper.example/a/1")

    assert result.title == "Broken pledge on the tram budget"


def test_a_section_h1_naming_the_site_is_not_the_headline() -> None:
    head = ('<meta property="og:title" content="Citypaper 1.8 - The tram update">'
            '<meta property="og:site_name" content="Citypaper Update News">')
    result = extract_article(
        page(EN_PARAGRAPHS, head=head, title="Citypaper 1.8 - The tram update",
             h1="Citypaper News"),
        "https://updates.example/post/1")

    assert result.title == "Citypaper 1.8 - The tram update"


def test_a_headline_shown_and_declared_alike_keeps_a_segment_like_the_domain() -> None:
    head = '<meta property="og:title" content="Teaching Online: Effective Practices">'
    result = extract_article(
        page(EN_PARAGRAPHS, head=head, title="Teaching Online: Effective Practices | Centre",
             h1="Teaching Online: Effective Practices"),
        "https://teaching.resources.example.edu/topics/online")

    assert result.title == "Teaching Online: Effective Practices"


def test_of_two_declared_publish_times_the_earlier_is_the_first_publication() -> None:
    head = (_ld(headline="Tram plan", datePublished="2016-05-08T10:11:51+01:00")
            + '<meta property="article:published_time" content="2015-09-17T16:57:43+01:00">')
    result = extract_article(page(EN_PARAGRAPHS, head=head), "https://paper.example/a/1")

    assert result.published == datetime(2015, 9, 17, 15, 57, 43, tzinfo=UTC)


def test_a_publication_or_desk_beside_a_person_in_the_byline_is_not_an_author() -> None:
    for desk in ("Time Magazine", "Smart Shopping Team", "Business Desk", "Ascii編集部"):
        head = (f'<meta property="article:author" content="Maria Lopez">'
                f'<meta property="article:author" content="{desk}">')
        result = extract_article(page(EN_PARAGRAPHS, head=head), "https://paper.example/a/1")
        assert result.authors == ["Maria Lopez"], desk


def test_a_list_of_the_sites_columnists_is_not_a_byline() -> None:
    columnists = ('<div class="opinion"><h3>Columnists</h3><ul>' + "".join(
        f'<li><a href="/author/{i}/">Columnist{i} Name</a></li>' for i in range(12))
        + "</ul></div>")
    html = page(EN_PARAGRAPHS, before=columnists).replace("<article>", "<div>")
    result = extract_article(html.replace("</article>", "</div>"), "https://paper.example/a/1")

    assert result.authors == []
