"""Operator-wide kopf settings and shared clients."""

from __future__ import annotations

import logging
from typing import Any

import kopf

from kubemedic.clients.kube import KubeReader, load_api_client
from kubemedic.constants import FINALIZER, PROGRESS_PREFIX
from kubemedic.service.diagnosis import DiagnosisDeps
from kubemedic.settings import OperatorSettings


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    operator_settings: OperatorSettings = memo.setdefault("settings", OperatorSettings())
    settings.persistence.finalizer = FINALIZER
    # NB: kopf's default progress storage writes `status.kopf`, which our structural
    # CRD schema prunes; annotations under our own group survive and are namespaced.
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=PROGRESS_PREFIX)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=PROGRESS_PREFIX, key="last-handled-configuration"
    )
    # kopf posts log lines as Events from INFO up; we post our own, meaningful Events.
    settings.posting.level = logging.WARNING
    settings.execution.max_workers = operator_settings.workers
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    settings.networking.request_timeout = 30
    memo["reader"] = KubeReader(load_api_client(operator_settings.kubeconfig))
    memo["diagnosis_deps"] = DiagnosisDeps(reader=memo["reader"])
