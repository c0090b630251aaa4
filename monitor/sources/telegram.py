"""Public Telegram channels, read from their web preview ``https://t.me/s/CHANNEL``.

Parsing (bytes to posts, and what each post carries) is in
:mod:`monitor.sources.telegram_parse`. This module pages through the preview:

- A page shows about 20 messages; ``?before=N`` shows those below number N.
  Each further page is asked for ``before`` the lowest number on the page
  before it (service messages included), so the pages of one poll cover one
  unbroken stretch of numbers.
- First poll (no cursor yet): the newest page, then older pages until
  ``backfill`` posts are in hand, a post older than ``since`` turns up, or the
  channel has nothing older. It keeps the newest page whole (``backfill: 0``
  means just that page) and otherwise the newest ``backfill`` posts, none from
  before ``since``. At most ``ceil(backfill / 20) + 1`` pages.
- Later polls: the newest page, then older pages until one reaches the newest
  number seen before (the cursor's ``newest``). At most ``max(3, backfill // 20
  + 1)`` pages per poll; when that is not enough (a very busy channel, a long
  outage) the stretch still unread is kept in the cursor (``gaps``) and read by
  the next polls, after their newest page, so no post is skipped.
- Deletions: each unbroken run of pages gives a window, from the lowest number
  on its last page up to the highest number on its first page (a run that
  starts at ``before=N`` reaches up to N-1). A post stored earlier whose number
  lies inside and that the pages no longer show was deleted. The window never
  reaches above the newest post shown: a stale or cut page must not delete the
  newest posts. Album members and service messages have numbers that are
  never shown; they were never stored either, so they are never "deleted".
- The newest page is fetched with the stored validators (t.me sends none
  today; a mirror may); on a 304 only pending gaps are read.
- A page that is not a channel preview is an error: t.me answers
  ``t.me/s/NAME`` for a name that does not exist, is private, or has its
  preview turned off by redirecting to its contact page, which gives a
  FetchError naming the channel; any other page is a ParseError. A 429 (with
  its Retry-After) and every other HTTP error propagate as they are.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time
from typing import Any, ClassVar

from monitor.config import TelegramSource
from monitor.errors import FetchError, ParseError
from monitor.http import HttpClient, HttpResponse
from monitor.sources.base import (
    FetchResult,
    FetchState,
    ParseContext,
    Post,
    RawResponse,
    Validators,
    Window,
)
from monitor.sources.telegram_parse import Page, not_a_preview, parse_posts, read_page

PAGE_SIZE = 20  # messages t.me shows per page
MIN_CATCH_UP_PAGES = 3
MAX_GAPS = 20  # unread stretches remembered; older ones are given up


@dataclass
class _Run:
    """The pages one poll fetched, and what they showed."""

    responses: list[RawResponse] = field(default_factory=list)
    posts: dict[str, Post] = field(default_factory=dict)
    windows: list[Window] = field(default_factory=list)
    first: HttpResponse | None = None
    pages_left: int = 0

    def add(self, posts: list[Post]) -> None:
        for post in posts:
            self.posts.setdefault(post.external_id, post)


class TelegramAdapter:
    kind: ClassVar[str] = "telegram"

    def __init__(
        self,
        url: str,
        *,
        backfill: int = 100,
        since: date | None = None,
        proxy: str | None = None,
        name: str | None = None,
    ) -> None:
        self.url = url
        self.backfill = backfill
        self.since = datetime.combine(since, time(), tzinfo=UTC) if since else None
        self.proxy = proxy
        self.name = name or url  # how errors name the channel

    @classmethod
    def from_source(cls, source: TelegramSource) -> TelegramAdapter:
        url = source.url or f"https://t.me/s/{source.channel}"
        name = f"t.me/s/{source.channel}" if source.channel else source.url
        return cls(url, backfill=source.backfill, since=source.since, proxy=source.proxy, name=name)

    @classmethod
    def parse(cls, body: bytes, context: ParseContext) -> list[Post]:
        return parse_posts(body, context)

    def fetch(self, http: HttpClient, state: FetchState) -> FetchResult:
        newest = state.cursor.get("newest")
        if not isinstance(newest, int):
            return self._first_poll(http, state.validators)
        return self._later_poll(http, state, newest)

    # --- first poll: backfill ---

    def _first_poll(self, http: HttpClient, validators: Validators) -> FetchResult:
        run = _Run(pages_left=math.ceil(self.backfill / PAGE_SIZE) + 1)
        page = self._page(http, run, None, validators)
        if page is None:
            return self._not_modified(run, validators)
        pages = [page]
        collected = len(page.posts)
        while (
            collected < self.backfill
            and run.pages_left > 0
            and page.has_older
            and page.lowest is not None
            and not self._before_since(page)
        ):
            older = self._page(http, run, page.lowest, None)
            if older is None or older.lowest is None or older.lowest >= page.lowest:
                break
            pages.append(older)
            collected += len(older.posts)
            page = older
        kept = self._backfill_posts(pages)
        run.add(kept)
        keys = [post.sort_key for post in kept if post.sort_key is not None]
        if keys and pages[0].highest is not None:
            run.windows.append(Window(min(keys), pages[0].highest))
        return self._result(run, {"newest": pages[0].highest or 0})

    def _before_since(self, page: Page) -> bool:
        times = [post.published_at for post in page.posts if post.published_at]
        return self.since is not None and bool(times) and min(times) < self.since

    def _backfill_posts(self, pages: list[Page]) -> list[Post]:
        posts = sorted(
            (post for page in pages for post in page.posts),
            key=lambda post: post.sort_key or 0,
            reverse=True,
        )
        posts = posts[: max(self.backfill, len(pages[0].posts))]
        if self.since is not None:
            since = self.since
            posts = [p for p in posts if p.published_at is None or p.published_at >= since]
        return posts

    # --- later polls: catch up, then fill gaps ---

    def _later_poll(self, http: HttpClient, state: FetchState, newest: int) -> FetchResult:
        run = _Run(pages_left=max(MIN_CATCH_UP_PAGES, self.backfill // PAGE_SIZE + 1))
        gaps = _gaps(state.cursor.get("gaps"))
        page = self._page(http, run, None, state.validators)
        top = newest
        if page is not None:
            top = max(newest, page.highest or 0)
            gap = self._read_down(http, run, page, None, newest)
            gaps = ([gap] if gap else []) + gaps
        elif not gaps:
            return self._not_modified(run, state.validators)
        remaining: list[tuple[int, int]] = []
        for above, before in gaps:
            if run.pages_left <= 0:
                remaining.append((above, before))
                continue
            first = self._page(http, run, before, None)
            gap = self._read_down(http, run, first, before, above) if first else None
            if gap:
                remaining.append(gap)
        cursor: dict[str, Any] = {"newest": top}
        if remaining:
            cursor["gaps"] = [list(gap) for gap in remaining[:MAX_GAPS]]
        return self._result(run, cursor, state.validators if page is None else None)

    def _read_down(
        self, http: HttpClient, run: _Run, page: Page, before: int | None, known: int
    ) -> tuple[int, int] | None:
        """Read ``page`` and older pages down to number ``known``; note the window
        seen and return the stretch (known, lowest read) left unread, if any."""
        high = page.highest if before is None else before - 1
        run.add(page.posts)
        while page.lowest is not None and page.lowest > known and page.has_older:
            if run.pages_left <= 0:
                self._window(run, page.lowest, high)
                return (known, page.lowest)
            older = self._page(http, run, page.lowest, None)
            if older is None or older.lowest is None or older.lowest >= page.lowest:
                break
            run.add(older.posts)
            page = older
        if page.lowest is not None:
            self._window(run, page.lowest, high)
        return None

    @staticmethod
    def _window(run: _Run, low: int, high: int | None) -> None:
        if high is not None and low <= high:
            run.windows.append(Window(low, high))

    # --- one page ---

    def _page(
        self, http: HttpClient, run: _Run, before: int | None, validators: Validators | None
    ) -> Page | None:
        """Fetch and read one page; None for a 304."""
        run.pages_left -= 1
        response = http.get(
            self.url,
            etag=validators.etag if validators else None,
            last_modified=validators.last_modified if validators else None,
            proxy=self.proxy,
            params={"before": str(before)} if before is not None else None,
        )
        if run.first is None:
            run.first = response
        if response.not_modified:
            return None
        run.responses.append(RawResponse.of(response))
        page = read_page(response.body, ParseContext(response.url, response.content_type))
        if page.kind == "tme_page":
            moved = (
                f" (redirected to {response.url})"
                if response.url.split("?")[0] != self.url.split("?")[0]
                else ""
            )
            raise FetchError(
                f"{self.name} is not a public Telegram channel preview{moved}: "
                "the channel does not exist, is private, or has no web preview"
            )
        if page.kind != "preview":
            raise ParseError(
                f"{response.url}: not a Telegram channel preview page: {not_a_preview(page)}"
            )
        index = len(run.responses) - 1
        return replace(page, posts=[replace(post, response=index) for post in page.posts])

    # --- results ---

    def _result(
        self, run: _Run, cursor: dict[str, Any], kept: Validators | None = None
    ) -> FetchResult:
        first = run.first
        validators = kept or Validators(
            first.etag if first else None, first.last_modified if first else None
        )
        return FetchResult(
            posts=sorted(run.posts.values(), key=lambda post: post.sort_key or 0),
            validators=validators,
            cursor=cursor,
            windows=run.windows,
            http_status=first.status if first else None,
            bytes_read=sum(len(response.body) for response in run.responses),
            responses=run.responses,
        )

    @staticmethod
    def _not_modified(run: _Run, validators: Validators) -> FetchResult:
        first = run.first
        kept = Validators(
            (first.etag if first else None) or validators.etag,
            (first.last_modified if first else None) or validators.last_modified,
        )
        return FetchResult(posts=[], validators=kept, not_modified=True, http_status=304)


def _gaps(value: object) -> list[tuple[int, int]]:
    """The cursor's unread stretches, each (above, before); anything malformed is dropped."""
    if not isinstance(value, list):
        return []
    gaps: list[tuple[int, int]] = []
    for item in value:
        if (
            isinstance(item, list)
            and len(item) == 2
            and all(isinstance(number, int) for number in item)
            and item[0] < item[1]
        ):
            gaps.append((item[0], item[1]))
    return gaps
