"""DNSFailure: the scope's containers cannot resolve names.

Signals: log lines of Go's, glibc's, Node's and Java's resolvers ("no such host",
"Temporary failure in name resolution", ``EAI_AGAIN``, ``ENOTFOUND``,
``UnknownHostException``), grouped per container log and counted, and the kubelet's
``DNSConfigForming`` event (too many nameservers or search domains). When the name that
fails is a Service of the bundle that has no ready endpoints, DependencyDown explains it
better and wins by precedence.

A restart does not fix DNS: the finding escalates with the names that fail and the checks
(CoreDNS pods, the pod's resolv.conf, the name's spelling and namespace).
"""

import re
from typing import Final

from kubemedic.domain import view
from kubemedic.domain.analyzers import base, signals, vocabulary
from kubemedic.models.diagnosis import Category

#: Resolution failures in fewer lines than this are noise (one retry at start-up).
MIN_LINES: Final = 2
#: The name that failed, as Go ("lookup NAME on 10.96.0.10:53") and others print it.
_LOOKUP_RE: Final = re.compile(
    r"lookup ([a-z0-9.-]{1,253})|host ([a-z0-9.-]{1,253})|getaddrinfo \w+ ([a-z0-9.-]{1,253})|"
    r"unknownhostexception: ([a-z0-9.-]{1,253})"
)


def failed_names(lines: list[str]) -> list[str]:
    """The host names the resolver failed on, in order of first appearance."""
    names: dict[str, None] = {}
    for line in lines:
        match = _LOOKUP_RE.search(line.lower())
        if match:
            name = next(group for group in match.groups() if group).rstrip(".")
            names.setdefault(name, None)
    return list(names)


def analyze_dns_failure(index: view.BundleView) -> base.Finding | None:
    """Repeated name-resolution failures in the scope's logs, or DNSConfigForming events."""
    pods = index.scope_pods()
    logs = signals.log_matches(index, vocabulary.DNS_RE, pods=pods)
    events = [e for pod in pods for e in index.events_for(pod) if e.reason == "DNSConfigForming"]
    total = sum(m.count for m in logs)
    if total < MIN_LINES and not events:
        return None
    evidence = [m.cite("failed name resolution") for m in logs]
    evidence.extend(event.cite() for event in events)
    names = failed_names([line for m in logs for line in (m.first, m.last)])
    subject = base.describe_workload(index.workload_ref(), index.target.display())
    summary = (
        f"{subject} cannot resolve "
        + (base.quoted_list(names) if names else "names")
        + f" ({base.plural(total, 'error line')}"
        + (f", {base.plural(len(events), 'DNSConfigForming event')}" if events else "")
        + "); check the name and cluster DNS."
    )
    instructions = (
        "Check that the name exists and is spelled with its namespace "
        "(<service>.<namespace>.svc.cluster.local), that CoreDNS is healthy "
        "(`kubectl -n kube-system get pods -l k8s-app=kube-dns`, its logs), and the pod's "
        "/etc/resolv.conf (`kubectl exec <pod> -- cat /etc/resolv.conf`). For DNSConfigForming, "
        "trim the node's or the pod's nameservers/search list. Restarting the pods does not help."
    )
    first = logs[0] if logs else None
    return base.escalation(
        index,
        Category.DNS_FAILURE,
        summary=summary,
        confidence=base.scaled_confidence(0.72, len({(m.namespace, m.pod) for m in logs})),
        evidence=evidence,
        instructions=instructions,
        facts={
            "pod": first.pod if first else "",
            "container": first.container if first else "",
            "host": names[0] if names else "",
        },
    )
