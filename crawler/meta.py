"""Keys newswatch puts in `Request.meta`, shared by the spider and its middlewares."""

from __future__ import annotations

# The SourceSpec a request is made for.
SOURCE = "newswatch_source"
# "site": the URL must stay on the source's own site (links from pages and sitemaps,
# and wherever they redirect); "any": feed items and the source URL itself.
SCOPE = "newswatch_scope"
SITE = "site"
ANYWHERE = "any"
# What the response is for: "source", "sitemap" or "article".
ROLE = "newswatch_role"
# Monotonic time before which a retry must not be sent (Retry-After).
RETRY_AT = "newswatch_retry_at"
