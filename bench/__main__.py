"""``python -m bench``: Gale's request path against bare Tornado, Starlette and FastAPI
(:mod:`bench.request_path`), then what checking revocation costs a request
(:mod:`bench.revocation`).

``python -m bench.tracing`` measures what request tracing costs, mode by mode.
"""

from bench.request_path import main
from bench.revocation import main as revocation

main()
revocation([])
