"""Making a Microservice's TLS material exist, and reading back what TLSReady should say.

Self-signed mode keeps the namespace CA (``gale-ca``) and the serving Secret (``{name}-tls``)
current; certManager mode applies a ``Certificate`` and leaves issuing to cert-manager.
Every decision comes from ``core.tls``; this module only reads, writes and handles races.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Mapping
from typing import Any

from gale_operator.core import kinds
from gale_operator.core.naming import Owner, is_owned_by
from gale_operator.core.pki import CertificateAuthority, generate_ca, issue_serving_certificate
from gale_operator.core.spec import MicroserviceSpec, TLSMode
from gale_operator.core.tls import (
    CA_SECRET_NAME,
    desired_ca_secret,
    desired_certificate,
    desired_serving_secret,
    durations,
    load_authority,
    serving_dns_names,
    serving_renewal,
    stored_certificate,
)
from gale_operator.core.tls_status import (
    TLSReport,
    cert_manager_missing,
    cert_manager_report,
    self_signed_report,
)
from gale_operator.kube.apply import Action, Applied, ChildConflict, apply_child
from gale_operator.kube.client import ApiError, KubeClient

#: cert-manager's annotation on the Secrets it writes: such a Secret named ``{name}-tls`` is
#: ours to take over when a Microservice moves from certManager to selfSigned.
CERT_MANAGER_ANNOTATION = "cert-manager.io/certificate-name"


@dataclasses.dataclass(frozen=True)
class TLSOutcome:
    """What TLSReady says (``None``: TLS is off) and which objects were written."""

    report: TLSReport | None
    applied: tuple[Applied, ...] = ()


async def reconcile_tls(
    client: KubeClient,
    spec: MicroserviceSpec,
    *,
    owner: Owner,
    previous_tls: Mapping[str, Any] | None,
    now: datetime.datetime,
) -> TLSOutcome:
    """Bring the TLS objects in line with ``spec.tls`` before the Deployment mounts them."""
    if spec.tls.mode is TLSMode.SELF_SIGNED:
        return await _self_signed(client, spec, owner=owner, now=now)
    if spec.tls.mode is TLSMode.CERT_MANAGER:
        return await _cert_manager(client, spec, owner=owner)
    applied: list[Applied] = []
    if previous_tls:  # TLS was on: the key pair must not outlive the need for it
        applied.extend(await _delete_certificate(client, owner=owner))
        secret = await client.get(
            kinds.SECRET, namespace=owner.namespace, name=owner.tls_secret_name
        )
        if secret is not None and is_owned_by(secret, owner):
            await client.delete(kinds.SECRET, namespace=owner.namespace, name=owner.tls_secret_name)
            applied.append(Applied(kinds.SECRET, owner.tls_secret_name, Action.DELETED, None))
    return TLSOutcome(None, tuple(applied))


async def namespace_authority(
    client: KubeClient, *, namespace: str, now: datetime.datetime, outlive: datetime.timedelta
) -> tuple[CertificateAuthority, Applied | None]:
    """The namespace's CA, generated and stored on first use, shared by every Microservice.

    Microservices reconcile concurrently, so two may try to create ``gale-ca`` at once: the
    loser of the race (409) adopts the winner's CA rather than overwriting it.
    """
    stored = await client.get(kinds.SECRET, namespace=namespace, name=CA_SECRET_NAME)
    ca = load_authority((stored or {}).get("data"), now=now, outlive=outlive)
    if ca is not None:
        return ca, None
    ca = generate_ca(namespace, now=now)
    manifest = desired_ca_secret(ca, namespace=namespace)
    if stored is None:
        try:
            created = await client.create(kinds.SECRET, manifest)
        except ApiError as exc:
            winner = await client.get(kinds.SECRET, namespace=namespace, name=CA_SECRET_NAME)
            adopted = load_authority((winner or {}).get("data"), now=now, outlive=outlive)
            if exc.status != 409 or adopted is None:
                raise
            return adopted, None
        return ca, Applied(kinds.SECRET, CA_SECRET_NAME, Action.CREATED, created)
    patched = await client.patch(
        kinds.SECRET, namespace=namespace, name=CA_SECRET_NAME, patch={"data": manifest["data"]}
    )
    return ca, Applied(kinds.SECRET, CA_SECRET_NAME, Action.PATCHED, patched, patch={"data": {}})


async def _self_signed(
    client: KubeClient, spec: MicroserviceSpec, *, owner: Owner, now: datetime.datetime
) -> TLSOutcome:
    duration, renew_before = durations(spec.tls)
    ca, ca_applied = await namespace_authority(
        client, namespace=owner.namespace, now=now, outlive=duration
    )
    applied = [ca_applied] if ca_applied else []
    name = owner.tls_secret_name
    stored = await client.get(kinds.SECRET, namespace=owner.namespace, name=name)
    if stored is not None and not _ours(stored, owner):
        raise ChildConflict(
            f"Secret {owner.namespace}/{name} exists and is not controlled by this "
            "Microservice; rename or delete it"
        )
    dns_names = serving_dns_names(owner.name, owner.namespace, spec.tls.dns_names)
    data = (stored or {}).get("data")
    renewal = serving_renewal(data, ca=ca, dns_names=dns_names, now=now, renew_before=renew_before)
    if renewal.needed:
        applied.extend(await _delete_certificate(client, owner=owner))
        issued = issue_serving_certificate(ca, dns_names=dns_names, now=now, duration=duration)
        manifest = desired_serving_secret(issued, owner=owner)
        if stored is None:
            obj = await client.create(kinds.SECRET, manifest)
            applied.append(Applied(kinds.SECRET, name, Action.CREATED, obj))
        else:
            patch = {"metadata": manifest["metadata"], "data": manifest["data"]}
            obj = await client.patch(
                kinds.SECRET, namespace=owner.namespace, name=name, patch=patch
            )
            applied.append(
                Applied(kinds.SECRET, name, Action.PATCHED, obj, patch={"data": {}}, before=stored)
            )
        data = manifest["data"]
    report = self_signed_report(
        stored_certificate(data), owner=owner, now=now, renew_before=renew_before
    )
    return TLSOutcome(report, tuple(applied))


def _ours(secret: Mapping[str, Any], owner: Owner) -> bool:
    """Controlled by this Microservice, or written by cert-manager for its Certificate."""
    annotations = (secret.get("metadata") or {}).get("annotations") or {}
    return (
        is_owned_by(dict(secret), owner) or annotations.get(CERT_MANAGER_ANNOTATION) == owner.name
    )


async def _cert_manager(client: KubeClient, spec: MicroserviceSpec, *, owner: Owner) -> TLSOutcome:
    if not await client.serves(kinds.CERTIFICATE):
        return TLSOutcome(cert_manager_missing())
    observed = await client.get(kinds.CERTIFICATE, namespace=owner.namespace, name=owner.name)
    result = await apply_child(
        client,
        kinds.CERTIFICATE,
        owner=owner,
        name=owner.name,
        desired=desired_certificate(spec.tls, owner=owner),
        observed=observed,
    )
    return TLSOutcome(cert_manager_report(result.obj, owner=owner), (result,))


async def _delete_certificate(client: KubeClient, *, owner: Owner) -> list[Applied]:
    """Remove our cert-manager Certificate, if cert-manager exists and we made one."""
    if not await client.serves(kinds.CERTIFICATE):
        return []
    found = await client.get(kinds.CERTIFICATE, namespace=owner.namespace, name=owner.name)
    if found is None or not is_owned_by(found, owner):
        return []
    await client.delete(kinds.CERTIFICATE, namespace=owner.namespace, name=owner.name)
    return [Applied(kinds.CERTIFICATE, owner.name, Action.DELETED, None, before=found)]
