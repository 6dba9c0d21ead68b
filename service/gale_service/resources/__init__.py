"""Resources as slices: each resource is one package (its models, its pages, its
:class:`Slice`) over resource-agnostic machinery (versioned documents, the outbox and live
feed, export and import, problem+json). Add one with a package and one line in
``app.SLICES``.

The package ``__init__`` modules import nothing, so a resource's models load alone (the
import parser's worker processes unpickle them) without the handlers and pages.
"""
