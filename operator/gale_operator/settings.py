"""The one place that builds kopf's settings for Gale.

Hardened watching (server- and client-side timeouts, an inactivity timeout that restarts
a silently stalled watch), Gale's finalizer and annotation prefix instead of kopf's, and
peering only when asked for.
"""

from __future__ import annotations

import kopf

from gale_operator.config import OperatorConfig
from gale_operator.core import kinds


def operator_settings(config: OperatorConfig) -> kopf.OperatorSettings:
    settings = kopf.OperatorSettings()
    settings.watching.server_timeout = config.watch_server_timeout
    settings.watching.client_timeout = config.watch_client_timeout
    settings.watching.connect_timeout = 10
    settings.watching.inactivity_timeout = config.watch_inactivity_timeout
    settings.networking.request_timeout = 30
    settings.networking.connect_timeout = 10
    settings.persistence.finalizer = kinds.FINALIZER
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(
        prefix=kinds.ANNOTATION_PREFIX
    )
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=kinds.ANNOTATION_PREFIX, key="last-handled-configuration"
    )
    settings.posting.reporting_component = "gale-operator"
    settings.peering.standalone = config.peering is None
    settings.peering.name = config.peering or "default"
    settings.peering.clusterwide = config.clusterwide
    settings.peering.mandatory = config.peering is not None
    return settings
