"""The three names an adopter chooses, checked, and every spelling derived from them."""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass

_DNS_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+")
_KIND = re.compile(r"[A-Z][A-Za-z0-9]*")
_CAMEL_WORDS = re.compile(r"[A-Z][a-z0-9]*|[A-Z]+(?![a-z])")
# Longest derived name: ``<name>-operator-test`` (a Helm test pod) stays a DNS label.
_MAX_NAME = 40


class BadName(ValueError):
    """A name the Kubernetes API, Python or Helm would refuse: one line for the adopter."""


def _plural(word: str) -> str:
    """English plural as Kubernetes tooling spells CRD plurals (kubebuilder's rule)."""
    if re.search(r"(s|x|z|ch|sh)$", word):
        return word + "es"
    if re.search(r"[^aeiou]y$", word, re.IGNORECASE):
        return word[:-1] + ("IES" if word.isupper() else "ies")
    return word + "s"


@dataclass(frozen=True)
class Names:
    """A project's name (DNS label), API group (DNS subdomain) and custom resource kind."""

    name: str
    group: str
    kind: str

    @property
    def words(self) -> list[str]:
        return self.name.split("-")

    @property
    def snake(self) -> str:
        """Python packages, metric and cookie prefixes: ``acme_orders``."""
        return self.name.replace("-", "_")

    @property
    def upper(self) -> str:
        """The settings prefix without its underscore: ``ACME_ORDERS``."""
        return self.snake.upper()

    @property
    def camel(self) -> str:
        """Identifiers such as alert names: ``AcmeOrders``."""
        return "".join(word.capitalize() for word in self.words)

    @property
    def flat(self) -> str:
        """Lower-cased CamelCase, as Prometheus rule tests spell alert names: ``acmeorders``."""
        return "".join(self.words)

    @property
    def display(self) -> str:
        """The name in prose and titles: ``Acme Orders``."""
        return " ".join(word.capitalize() for word in self.words)

    @property
    def kind_words(self) -> list[str]:
        return _CAMEL_WORDS.findall(self.kind)

    @property
    def kind_lower(self) -> str:
        """The CRD's singular name: ``orderservice``."""
        return self.kind.lower()

    @property
    def kind_upper(self) -> str:
        """A constant naming the kind: ``ORDER_SERVICE``."""
        return "_".join(self.kind_words).upper()

    @property
    def plural(self) -> str:
        """The CRD's plural, its resource name: ``orderservices``."""
        return _plural(self.kind_lower)

    @property
    def kind_plural(self) -> str:
        return _plural(self.kind)

    @property
    def kind_upper_plural(self) -> str:
        return _plural(self.kind_upper)

    @property
    def short_name(self) -> str:
        """``kubectl get os``: the kind's initials, or its first two letters if one word."""
        words = self.kind_words
        short = "".join(w[0] for w in words) if len(words) > 1 else self.kind[:2]
        return short.lower()


def check(name: str, group: str, kind: str) -> Names:
    """The names, or :class:`BadName` saying which one is wrong and what is expected."""
    if not _DNS_LABEL.fullmatch(name) or len(name) > _MAX_NAME:
        raise BadName(
            f"NAME {name!r} is not a DNS label of at most {_MAX_NAME} characters "
            "(lowercase letters, digits and '-', starting with a letter)"
        )
    snake = name.replace("-", "_")
    if not snake.isidentifier() or keyword.iskeyword(snake):
        raise BadName(f"NAME {name!r} does not make a Python identifier ({snake!r})")
    if not _DNS_SUBDOMAIN.fullmatch(group) or len(group) > 200:
        raise BadName(
            f"GROUP {group!r} is not a DNS subdomain with a dot, such as orders.example.com"
        )
    if not _KIND.fullmatch(kind) or len(kind) > 50:
        raise BadName(f"KIND {kind!r} is not a Kubernetes kind (UpperCamelCase letters and digits)")
    return Names(name, group, kind)


#: The template's own names, which :func:`check` would accept too.
TEMPLATE = Names("gale", "gale.dev", "Microservice")
