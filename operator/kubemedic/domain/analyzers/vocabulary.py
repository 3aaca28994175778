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
