"""Article extraction: one public entry point, `extract_article(html, url)`.

Modules, one job each: markup (decoding, parsing), structured (JSON-LD, microdata),
metadata (title, authors, site names), dates, language, prune (page furniture), main
(which of several stories), blocks (trafilatura's text), cleanup, lead (standfirst,
key points), body (the text pipeline) and article (the whole page).
"""

from crawler.extract.article import NO_ARTICLE, ExtractedArticle, extract_article

__all__ = ["NO_ARTICLE", "ExtractedArticle", "extract_article"]
