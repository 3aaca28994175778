"""CertificateExpired: TLS fails because a certificate has expired or is not yet valid.

Signals: the scope's container logs and pod events carrying the TLS libraries' words
("x509: certificate has expired or is not yet valid", OpenSSL's "certificate expired",
Java's ``CertificateExpiredException``, Node's ``CERT_HAS_EXPIRED``). The lines are grouped
per container log, counted, and the first and last are cited. A restart does not renew a
certificate, so the finding escalates: renew it (cert-manager ``Certificate``, the Secret
it is mounted from) or fix the clock of a node whose time is wrong ("not yet valid").
"""

from kubemedic.domain import view
from kubemedic.domain.analyzers import base, signals, vocabulary
from kubemedic.models.diagnosis import Category


def analyze_certificate_expired(index: view.BundleView) -> base.Finding | None:
    """Logs or events of the scope's pods say a certificate is expired or not yet valid."""
    pods = index.scope_pods()
    logs = signals.log_matches(index, vocabulary.CERTIFICATE_RE, pods=pods)
    events = signals.event_matches(index, vocabulary.CERTIFICATE_RE, objects=pods)
    if not logs and not events:
        return None
    evidence = [m.cite("an expired or not yet valid certificate") for m in logs]
    evidence.extend(event.cite() for event in events)
    text = " ".join([*(m.last for m in logs), *(e.message for e in events)]).lower()
    not_yet = "not yet valid" in text and "expired" not in text
    problem = "not yet valid" if not_yet else "expired"
    subject = base.describe_workload(index.workload_ref(), index.target.display())
    affected = len({(m.namespace, m.pod) for m in logs}) or 1
    summary = (
        f"TLS fails in {subject}: a certificate is {problem} "
        f"({base.plural(sum(m.count for m in logs) or len(events), 'error line')}); "
        + (
            "check the node clocks (NTP)."
            if not_yet
            else "renew the certificate it presents or trusts."
        )
    )
    instructions = (
        "Find which certificate fails (the peer named in the log line), then renew it: for "
        "cert-manager, `kubectl get certificate -A` and `kubectl describe certificate <name>` "
        "(a failed renewal says why); for a mounted Secret, replace tls.crt/tls.key and roll the "
        "pods. For 'not yet valid', compare the node's clock with the issuer's (NTP). "
        "Restarting the pods does not help."
    )
    first = logs[0] if logs else None
    return base.escalation(
        index,
        Category.CERTIFICATE_EXPIRED,
        summary=summary,
        confidence=base.scaled_confidence(0.86, affected),
        evidence=evidence,
        instructions=instructions,
        facts={
            "pod": first.pod if first else "",
            "container": first.container if first else "",
            "namespace": first.namespace if first else index.target.namespace or "",
        },
    )
