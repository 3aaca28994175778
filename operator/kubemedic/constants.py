"""Names shared by the CRDs, the operator and the CLI, kept in one place."""

from typing import Final

API_GROUP: Final = "kubemedic.dev"
API_VERSION: Final = "v1alpha1"
GROUP_VERSION: Final = f"{API_GROUP}/{API_VERSION}"
INCIDENT_PLURAL: Final = "incidents"
POLICY_PLURAL: Final = "remediationpolicies"
BUNDLE_KIND: Final = "IncidentBundle"

FINALIZER: Final = f"{API_GROUP}/finalizer"
PROGRESS_PREFIX: Final = API_GROUP
FIELD_MANAGER: Final = "kubemedic"

#: Runbook knowledge: ConfigMaps with this label (value "true") in the operator namespace,
#: and the annotation listing the diagnosis categories they are about (comma-separated).
RUNBOOK_LABEL: Final = f"{API_GROUP}/runbook"
RUNBOOK_CATEGORIES_ANNOTATION: Final = f"{API_GROUP}/categories"
APPROVAL_PLURAL: Final = "incidentapprovals"
