"""``python -m bench``: Gale's request path against bare Tornado, Starlette and FastAPI
(:mod:`bench.request_path`).

``python -m bench.tracing`` measures what request tracing costs, mode by mode.
"""

from bench.request_path import main

main()
