"""``make adopt`` and ``make template-update``: turn the Gale template into a project.

Dev tooling only (standard library, no shipped code imports it). The rename is one data
table (:mod:`tools.adopt.rename`) driven by three names (:mod:`tools.adopt.names`), applied
to paths and contents alike, so that a later template diff can be replayed through it.
"""
