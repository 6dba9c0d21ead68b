"""The baseline operator: kopf with one do-nothing handler per Microservice.

What is left when Gale's own work is taken away: kopf's watching, its finalizer-free
create handler and the result it stores in the status. Run as
``python -m bench.operator_baseline`` with ``KUBECONFIG`` set.
"""

from __future__ import annotations

from typing import Any

import kopf


@kopf.on.create("gale.dev", "v1alpha1", "microservices", id="noop")
async def noop(**_: Any) -> dict[str, bool]:
    return {"done": True}


if __name__ == "__main__":
    kopf.configure(verbose=False)
    kopf.run(standalone=True, clusterwide=True)
