"""The items' declaration: the :class:`Resource` and the :class:`Slice` that ``app.SLICES``
registers. Apart from the package's ``__init__`` so that importing the models (as the
import parser's worker processes do) does not import the handlers and pages."""

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
