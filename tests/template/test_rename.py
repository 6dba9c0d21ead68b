"""The rename's rules one at a time: names derived, each spelling read in its context."""

from __future__ import annotations

import pytest

from tools.adopt.names import TEMPLATE, Names, check
from tools.adopt.rename import Renamer, short_names
from tools.adopt.wrap import wrap

NEW = check("acme-orders", "orders.acme.io", "OrderService")
RENAME = Renamer(TEMPLATE, NEW, ("ms", NEW.short_name))


def test_every_form_is_derived_from_the_three_names() -> None:
    assert (NEW.snake, NEW.upper, NEW.camel, NEW.flat, NEW.display) == (
        "acme_orders",
        "ACME_ORDERS",
        "AcmeOrders",
        "acmeorders",
        "Acme Orders",
    )
    assert (NEW.kind_lower, NEW.plural, NEW.kind_upper, NEW.kind_plural, NEW.short_name) == (
        "orderservice",
        "orderservices",
        "ORDER_SERVICE",
        "OrderServices",
        "os",
    )


@pytest.mark.parametrize(
    ("kind", "plural", "short"),
    [("Policy", "policies", "po"), ("Gateway", "gateways", "ga"), ("MailBox", "mailboxes", "mb")],
)
def test_plurals_follow_the_kubernetes_convention(kind: str, plural: str, short: str) -> None:
    names = check("shop", "shop.example.com", kind)
    assert (names.plural, names.short_name) == (plural, short)


@pytest.mark.parametrize(
    ("text", "renamed"),
    [
        ("from gale_service.app import x", "from acme_orders_service.app import x"),
        ("GALE_PORT=8888", "ACME_ORDERS_PORT=8888"),
        (
            "image: ghcr.io/gale-dev/gale-operator:1",
            "image: ghcr.io/acme-orders-dev/acme-orders-operator:1",
        ),
        ("name: gale", "name: acme-orders"),
        ('{{ include "gale.fullname" . }}', '{{ include "acme-orders.fullname" . }}'),
        (
            "record: gale:http_request_errors:ratio_rate5m",
            "record: acme_orders:http_request_errors:ratio_rate5m",
        ),
        ("image: gale:1", "image: acme-orders:1"),
        ("alert: GaleInstanceNotReady", "alert: AcmeOrdersInstanceNotReady"),
        ("alertname: galeinstancenotready", "alertname: acmeordersinstancenotready"),
        ("Gale's operator", "Acme Orders' operator"),
        ("# Gale", "# Acme Orders"),
        ("group: gale.dev", "group: orders.acme.io"),
        ("microservices.gale.dev", "orderservices.orders.acme.io"),
        ("gale.dev/finalizer", "orders.acme.io/finalizer"),
        ("kind: Microservice", "kind: OrderService"),
        ("class MicroserviceSpec:", "class OrderServiceSpec:"),
        ("KIND = kinds.MICROSERVICE", "KIND = kinds.ORDER_SERVICE"),
        ('resources: ["microservices/status"]', 'resources: ["orderservices/status"]'),
        ("gale_operator_microservices", "acme_orders_operator_orderservices"),
        ("kubectl get ms gale", "kubectl get os acme-orders"),
        ("shortNames: [ms]", "shortNames: [os]"),
        ('{"us": 0.001, "ms": 1.0}', '{"us": 0.001, "ms": 1.0}'),
        ("timeout: 500ms", "timeout: 500ms"),
        ("a Python microservice on Kubernetes", "a Python microservice on Kubernetes"),
        ("nightingale", "nightingale"),
    ],
)
def test_text_is_renamed_by_context(text: str, renamed: str) -> None:
    assert RENAME.text(text) == renamed


def test_python_identifiers_and_the_subscripts_mirroring_them_are_snake() -> None:
    source = (
        'app = Application(gale=settings)\nlimit = app.settings["gale"].max\nPART_OF = "gale"\n'
    )
    assert RENAME.text(source, python=True) == (
        "app = Application(acme_orders=settings)\n"
        'limit = app.settings["acme_orders"].max\n'
        'PART_OF = "acme-orders"\n'
    )
    assert RENAME.text('categories == ["gale"]\n', python=True) == 'categories == ["acme-orders"]\n'


def test_a_kept_region_keeps_the_template_names() -> None:
    text = "Gale\n<!-- adopt:keep -->\n## Adopting Gale\n<!-- /adopt:keep -->\nGale\n"
    assert RENAME.text(text) == (
        "Acme Orders\n<!-- adopt:keep -->\n## Adopting Gale\n<!-- /adopt:keep -->\nAcme Orders\n"
    )


def test_paths_rename_python_packages_snake_and_the_rest_kebab() -> None:
    packages = frozenset({"service/gale_service", "operator/gale_operator/handlers"})
    assert RENAME.path("service/gale_service/app.py", packages) == (
        "service/acme_orders_service/app.py"
    )
    assert RENAME.path("helm/gale/crds/microservices.gale.dev.yaml", packages) == (
        "helm/acme-orders/crds/orderservices.orders.acme.io.yaml"
    )
    assert RENAME.path("operator/gale_operator/handlers/microservice.py", packages) == (
        "operator/acme_orders_operator/handlers/orderservice.py"
    )


def test_a_multi_word_template_name_renames_each_of_its_forms() -> None:
    old = Names("acme-orders", "orders.acme.io", "OrderService")
    rename = Renamer(old, check("big-shop", "shop.big.io", "Cart"), None)
    assert rename.text("acme-orders acme_orders ACME_ORDERS_X AcmeOrdersUp acmeordersup") == (
        "big-shop big_shop BIG_SHOP_X BigShopUp bigshopup"
    )
    assert rename.text("Acme Orders runs each OrderService (orderservices)") == (
        "Big Shop runs each Cart (carts)"
    )


def test_the_short_name_is_read_from_the_template_crd() -> None:
    crd = "spec:\n  group: gale.dev\n  names:\n    shortNames: [ms]\n"
    assert short_names(crd, TEMPLATE, NEW) == ("ms", "os")
    assert short_names("spec:\n  group: kopf.dev\n", TEMPLATE, NEW) is None


def test_prose_pushed_past_the_limit_reflows_into_its_paragraph() -> None:
    before = "# one two three four\n# five\nx = 1\n"
    after = "# one two three four five six\n# seven\nx = 1\n"
    assert wrap(after, 20, before) == "# one two three four\n# five six seven\nx = 1\n"


def test_a_docstring_wraps_under_its_own_indent_and_list_items_hang() -> None:
    source = (
        'def f():\n    """Short enough.\n\n    - ``x``  a list item grown far too long\n    """\n'
    )
    assert wrap(source, 32, "") == (
        'def f():\n    """Short enough.\n\n    - ``x``  a list item grown\n'
        '             far too long\n    """\n'
    )


def test_a_long_string_in_brackets_becomes_implicit_concatenation() -> None:
    source = 'call(f"value {x} and more words here")\n'
    assert wrap(source, 24, "") == 'call(f"value {x} and "\n     "more words here")\n'


def test_lines_already_too_long_in_the_template_are_left_alone() -> None:
    line = "# " + "word " * 30
    assert wrap(line + "\n", 40, line + "\n") == line + "\n"
