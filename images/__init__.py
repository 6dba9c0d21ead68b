"""Gale's container images: ``make images`` runs ``python -m images`` (:mod:`images.build`)."""
