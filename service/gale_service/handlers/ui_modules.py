"""Reusable template pieces (Tornado UI modules): one item row, used by the server-rendered
list; the JavaScript client builds the same markup for live updates."""

from __future__ import annotations

from typing import Any

from tornado.web import UIModule


class ItemRow(UIModule):
    def render(self, item: dict[str, Any]) -> str:
        return self.render_string("modules/item_row.html", item=item).decode()
