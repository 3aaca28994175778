"""The control plane's vocabulary: kubelet, scheduler and controller reasons and messages.

Every analyzer recognises failures by what the kubelet, the scheduler and the controllers
really write (``state.waiting.reason``, event reasons, message texts), and every such word or
pattern lives here once, so two analyzers cannot disagree on what "an image pull error" or
"a missing ConfigMap" looks like. The patterns quote the kubelet's texts from
pkg/kubelet/kuberuntime and the volume manager, and the API server's quota message.

Regular expressions are bounded (``{1,253}``) and run over at most ``MAX_SCAN`` characters
of a message, so an odd multi-megabyte message cannot make an analyzer slow.
"""

import re
from typing import Final

IMAGE_PULL_REASONS: Final = frozenset(
    {
        "ErrImagePull",
        "ImagePullBackOff",
        "InvalidImageName",
        "ErrImageNeverPull",
        "ErrImageInspect",
        "RegistryUnavailable",
    }
)
CONFIG_REASONS: Final = frozenset({"CreateContainerConfigError"})
CRASH_WAITING_REASONS: Final = frozenset({"CrashLoopBackOff", "RunContainerError"})
OOM_REASON: Final = "OOMKilled"
OOM_EXIT_CODE: Final = 137
#: Exit codes of a container stopped by the kubelet (SIGTERM 143, SIGKILL 137) or that
#: handled SIGTERM cleanly (0): what a liveness-probe restart leaves behind.
KILLED_EXIT_CODES: Final = frozenset({0, OOM_EXIT_CODE, 143})
#: Restarts that count as "repeated" without a CrashLoopBackOff waiting state.
CRASH_MIN_RESTARTS: Final = 3

#: The cAdvisor series of a container's working set (what the OOM killer compares).
WORKING_SET_METRIC: Final = "container_memory_working_set_bytes"

# NB: the kubelet's texts, from pkg/kubelet/kuberuntime and the volume manager.
MISSING_OBJECT_RE: Final = re.compile(
    r'\b(configmap|secret)s? "([^"]{1,253})" not found', re.IGNORECASE
)
MISSING_KEY_RE: Final = re.compile(
    r"couldn't find key (\S{1,253}) in (ConfigMap|Secret) ([^/\s]{1,63})/(\S{1,253})"
)
#: Log texts of a dependency that is unreachable for now (refused, DNS, timeouts).
TRANSIENT_LOG_RE: Final = re.compile(
    r"connection refused|connect: connection refused|i/o timeout|no such host|"
    r"temporary failure in name resolution|connection reset|deadline exceeded|"
    r"could not connect|ECONNREFUSED|ETIMEDOUT|EAI_AGAIN|service unavailable",
    re.IGNORECASE,
)
#: Lines that look like an error in a container log (the last such line is cited; the prompt
#: keeps them first). Matched on lower-cased text (``re.IGNORECASE`` is ten times slower);
#: ``e0314 `` is klog's error prefix.
ERROR_LINE_RE: Final = re.compile(
    r"panic|fatal|error|exception|traceback|refused|timeout|timed out|failed|denied|"
    r"not found|killed|oom|segfault|unavailable|^e\d{4} ",
    re.MULTILINE,
)
QUOTA_RE: Final = re.compile(
    r"exceeded quota: ([^,\s]{1,253}), requested: ([^ ]{1,1024}), used: ([^ ]{1,1024}), "
    r"limited: ([^ ]{1,1024})"
)
EVICTION_RESOURCE_RE: Final = re.compile(r"low on resource: ([A-Za-z][A-Za-z./-]{0,62}[A-Za-z])")
EVICTION_USAGE_RE: Final = re.compile(
    r"Container (\S{1,63}) was using (\S{1,32}), request is (\S{1,32}), "
    r"has larger consumption of ([A-Za-z][A-Za-z./-]{0,62}[A-Za-z])"
)
VOLUME_SCHEDULING_RE: Final = re.compile(
    r"unbound immediate PersistentVolumeClaims|volume node affinity conflict|"
    r"persistentvolumeclaim \"[^\"]{1,253}\" not found|available persistent volumes to bind|"
    r"unbound PersistentVolumeClaims",
    re.IGNORECASE,
)
STORAGECLASS_RE: Final = re.compile(
    r'storageclass(?:\.storage\.k8s\.io)? "([^"]{1,253})" not found'
)

#: Longest text an analyzer runs a regular expression over (messages are 1 KiB at most).
MAX_SCAN: Final = 4096

#: Event reasons of volumes that cannot be bound, provisioned, attached or mounted.
VOLUME_EVENT_REASONS: Final = frozenset(
    {"FailedMount", "FailedAttachVolume", "FailedMapVolume", "FailedBinding", "ProvisioningFailed"}
)

# -- Logs and events of the newer failure modes (matched on lower-cased text) -----------------

#: A full filesystem, as libc (ENOSPC), databases and runtimes word it.
NO_SPACE_RE: Final = re.compile(
    r"no space left on device|enospc|disk full|disk is full|could not extend file|"
    r"database or disk is full|not enough space on the disk|insufficient disk space"
)
#: A process killed by the OOM killer while its container kept running (gunicorn, uwsgi,
#: the kernel's own line, Node's and the JVM's wording).
OOM_INSIDE_RE: Final = re.compile(
    r"worker \(?pid:?\d{1,10}\)? was sent sigkill|perhaps out of memory|"
    r"out of memory: kill(?:ed)? process|oom-kill|memoryerror|"
    r"java\.lang\.outofmemoryerror|javascript heap out of memory|cannot allocate memory"
)
#: Expired or not yet valid certificates (Go crypto/x509 and tls, OpenSSL, Java, Node).
CERTIFICATE_RE: Final = re.compile(
    r"x509: certificate has expired or is not yet valid|certificate has expired|"
    r"certificate is not yet valid|certificate expired|cert_has_expired|cert_not_yet_valid|"
    r"tls: expired certificate|certificateexpiredexception|certificatenotyetvalidexception|"
    r"sslv3 alert certificate expired|err_cert_date_invalid"
)
#: Name resolution failures (Go's resolver, glibc, Node, curl, Java). Error codes are matched
#: as whole words: ``ModuleNotFoundError`` contains ``enotfound``.
DNS_RE: Final = re.compile(
    r"no such host|temporary failure in name resolution|name or service not known|"
    r"\beai_again\b|\benotfound\b|could not resolve host|\bnxdomain\b|server misbehaving|"
    r"unknownhostexception|name resolution failed|failed to resolve"
)
#: A dependency refusing or timing out (the target of the connection is cited).
CONNECT_FAILURE_RE: Final = re.compile(
    r"connection refused|econnrefused|connect: connection timed out|i/o timeout|"
    r"no route to host|ehostunreach|etimedout|could not connect|connection reset|"
    r"no such host|\beai_again\b|\benotfound\b|temporary failure in name resolution"
)
#: ``host:port`` or an in-cluster DNS name: ``svc``, ``svc.ns``, ``svc.ns.svc[.cluster.local]``.
HOST_RE: Final = re.compile(
    r"(?<![\w.-])([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)"
    r"(?:\.([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?))?"
    r"(?:\.svc(?:\.[a-z0-9.-]{1,200})?)?(?::(\d{1,5}))?(?![\w-])"
)
#: Why a controller could not create pods, other than a quota (which QuotaExceeded reads).
CREATE_FAILURE_RES: Final = (
    ("ServiceAccount", re.compile(r'serviceaccounts? "([^"]{1,253})" not found', re.IGNORECASE)),
    ("AdmissionWebhook", re.compile(r'admission webhook "([^"]{1,253})" denied', re.IGNORECASE)),
    ("PodSecurity", re.compile(r'violates podsecurity "([^"]{1,64})"', re.IGNORECASE)),
    (
        "ValidatingAdmissionPolicy",
        re.compile(r"validatingadmissionpolicy '([^']{1,253})'", re.IGNORECASE),
    ),
    (
        "LimitRange",
        re.compile(r"(maximum|minimum) (cpu|memory) usage per (?:container|pod)", re.IGNORECASE),
    ),
    ("Forbidden", re.compile(r"is forbidden: (.{1,200})", re.IGNORECASE)),
)
#: Node conditions that are bad when ``True`` while the node stays Ready, and their taints.
PRESSURE_CONDITIONS: Final = {
    "DiskPressure": "node.kubernetes.io/disk-pressure",
    "MemoryPressure": "node.kubernetes.io/memory-pressure",
    "PIDPressure": "node.kubernetes.io/pid-pressure",
    "NetworkUnavailable": "node.kubernetes.io/network-unavailable",
}
#: Kubelet node events that go with pressure (eviction, image and container GC).
PRESSURE_EVENT_REASONS: Final = frozenset(
    {
        "EvictionThresholdMet",
        "ImageGCFailed",
        "FreeDiskSpaceFailed",
        "ContainerGCFailed",
        "NodeHasDiskPressure",
        "NodeHasInsufficientMemory",
        "NodeHasInsufficientPID",
        "SystemOOM",
    }
)
#: The eviction API's refusal because of a PodDisruptionBudget (kubectl drain prints it).
PDB_BLOCK_RE: Final = re.compile(
    r"would violate the pod's disruption budget|disruption budget .{0,80}(?:needs|blocks)|"
    r"cannot evict pod|too many requests.{0,40}disruption"
)
#: cAdvisor's and the kubelet's series of the newer failure modes.
OOM_EVENTS_METRIC: Final = "container_oom_events_total"
VOLUME_AVAILABLE_METRIC: Final = "kubelet_volume_stats_available_bytes"
VOLUME_CAPACITY_METRIC: Final = "kubelet_volume_stats_capacity_bytes"
VOLUME_USED_METRIC: Final = "kubelet_volume_stats_used_bytes"
THROTTLED_METRIC: Final = "container_cpu_cfs_throttled"
