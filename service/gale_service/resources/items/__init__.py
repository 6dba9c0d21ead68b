"""Items, the sample resource: a name, a description and tags; listed by tag, shown live on
the home page. Rename or replace this package when you start your own service from Gale."""

from gale_service.endpoints import Endpoint
from gale_service.resource import Resource
from gale_service.resources.items.models import Item, ItemImport, ItemPage, ItemPatch, ItemWrite
from gale_service.resources.items.pages import IndexPage, ItemDetailPage, ItemRow
from gale_service.resources.slice import Slice

RESOURCE = Resource(
    name="items",
    singular="item",
    write=ItemWrite,
    patch=ItemPatch,
    public=Item,
    page=ItemPage,
    restore=ItemImport,
    tags="tags",
)
ITEMS = Slice(
    RESOURCE,
    pages=(
        Endpoint("/", IndexPage, "home", kwargs={"resource": RESOURCE}),
        Endpoint("/items/{item_id}", ItemDetailPage, "item_page", kwargs={"resource": RESOURCE}),
    ),
    ui_modules={"ItemRow": ItemRow},
)

__all__ = ["ITEMS", "RESOURCE"]
