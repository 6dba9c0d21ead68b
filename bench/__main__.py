"""``python -m bench``: the item read path against a bare Tornado handler (:mod:`bench.items`).

``python -m bench.tracing`` measures what request tracing costs.
"""

from bench.items import main

main()
