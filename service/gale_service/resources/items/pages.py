"""The items' browser pages: ``/`` (your items, live) and ``/items/{item_id}``, with the
``ItemRow`` UI module the list renders (the JavaScript client builds the same markup for
live updates)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from tornado.web import HTTPError, UIModule

from gale_service.auth.principal import Principal
from gale_service.handlers.pages import PageHandler
from gale_service.resource import Resource
from gale_service.store import DocumentNotFound, VersionedStore

PAGE_SIZE = 100


class ItemRow(UIModule):
    def render(self, item: dict[str, Any]) -> str:
        return self.render_string("modules/item_row.html", item=item).decode()


class ItemsPage(PageHandler):
    def initialize(self, resource: Resource) -> None:
        self.store: VersionedStore = self.services.store(resource)


class IndexPage(ItemsPage):
    async def get(self) -> None:
        principal: Principal | None = self.current_user
        if principal is None:
            self.redirect(self.reverse_url("login") + "?next=/")
            return
        hub = self.services.feed.hub
        # The position is read before the list, so the live client resumes from a point
        # that the rendered list already includes: nothing falls in between.
        seq = hub.position if hub.position is not None else await self.store.events.last_sequence()
        page = await self.store.list(limit=PAGE_SIZE, owner=principal.owner_scope())
        self.render("index.html", items=list(reversed(page.documents)), seq=seq)


class ItemDetailPage(ItemsPage):
    async def get(self, item_id: str) -> None:
        principal: Principal | None = self.current_user
        if principal is None:
            self.redirect(self.reverse_url("login") + "?" + urlencode({"next": self.request.path}))
            return
        try:
            item = await self.store.get(item_id, owner=principal.owner_scope())
        except DocumentNotFound:
            raise HTTPError(404) from None
        self.render("item.html", item=item)
