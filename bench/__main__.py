"""``python -m bench``: the item read path against a bare Tornado handler (:mod:`bench.items`),
then what checking revocation costs a request (:mod:`bench.revocation`).

``python -m bench.tracing`` measures what request tracing costs.
"""

from bench.items import main
from bench.revocation import main as revocation

main()
revocation([])
