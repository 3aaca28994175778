"""ImagePullError: images that cannot be pulled (wrong name or tag, credentials, registry)."""

from kubemedic.domain import view
from kubemedic.domain.analyzers import base, signals
from kubemedic.models.diagnosis import Category


def analyze_image_pull_error(index: view.BundleView) -> base.Finding | None:
    """Images that cannot be pulled (wrong name or tag, missing pull secret, registry down)."""
    problems = signals.scope_problems(index, [signals.ProblemKind.IMAGE])
    if not problems:
        return None
    pods_by_name = {view.name_of(pod): pod for pod in index.scope_pods()}
    evidence = signals.cite_problems(problems)
    images: dict[str, None] = {}
    for problem in problems:
        pod = pods_by_name.get(problem.pod)
        image = view.get_str(
            view.find_container(view.get_dict(pod, "spec"), problem.container), "image"
        )
        if image:
            images[image] = None
        for event in index.events_for(pod) if pod is not None else []:
            if event.reason in {"Failed", "BackOff"} and "image" in event.message.lower():
                evidence.append(event.cite())
    first = problems[0]
    messages = " ".join(p.message for p in problems).lower()
    if "unauthorized" in messages or "denied" in messages or "authentication required" in messages:
        cause = (
            "The registry refused the credentials: check that spec.imagePullSecrets names a "
            "Secret of "
            "type kubernetes.io/dockerconfigjson in the pod's namespace with access to the "
            "repository."
        )
    elif (
        "not found" in messages or "manifest unknown" in messages or "invalidimagename" in messages
    ):
        cause = (
            "The image or tag does not exist: correct the image reference (a typo in the tag is "
            "common)."
        )
    elif (
        "couldn't parse" in messages
        or "invalid reference format" in messages
        or first.reason == "InvalidImageName"
    ):
        cause = "The image reference is malformed: correct it."
    else:
        cause = "Check the registry is reachable from the nodes and the image reference is right."
    workload_key = index.workload_ref()
    subject = base.describe_workload(workload_key, f"Pod {first.namespace}/{first.pod}")
    image_text = base.quoted_list(images) or "(unknown)"
    instructions = (
        f"Image {image_text} used by {subject} cannot be pulled ({first.reason}: "
        f"{view.truncate(first.message, 300)}). {cause} Verify with "
        f"`kubectl describe pod -n {first.namespace} {first.pod}`, then update the image and roll "
        "out."
    )
    pods_affected = signals.count_affected_pods(problems)
    return base.escalation(
        index,
        Category.IMAGE_PULL_ERROR,
        summary=(
            f"Image {image_text} of {subject} cannot be pulled ({first.reason}) on "
            f"{base.plural(pods_affected, 'pod')}."
        ),
        confidence=base.scaled_confidence(0.9, pods_affected),
        evidence=evidence,
        instructions=instructions,
        facts={"pod": first.pod, "container": first.container, "namespace": first.namespace},
        reason=f"image {image_text} cannot be pulled ({first.reason})",
    )
