"""Pure domain logic: the rule-based diagnosis engine and its helpers.

Nothing here does I/O or imports kopf or the Kubernetes client (import-linter enforces it):
every function is a function of data, so a bundle file reproduces any diagnosis and the
tests are tables of realistic Kubernetes objects.

- :mod:`kubemedic.domain.quantity` parses and formats resource quantities (``128Mi``, ``500m``).
- :mod:`kubemedic.domain.view` indexes an IncidentBundle's raw objects (owners, revisions, events).
- :mod:`kubemedic.domain.analyzers` holds one analyzer per failure mode.
- :mod:`kubemedic.domain.rule_engine` picks the best finding and builds the Diagnosis.
- :mod:`kubemedic.domain.safety` keeps actions from doing harm: none for a recovered problem,
  capacity (not deletions) for an overload, no template patch for an injected sidecar.
- :mod:`kubemedic.domain.runbook` renders the human-readable markdown runbook.
- :mod:`kubemedic.domain.redaction` removes secrets from everything sent to an LLM.
- :mod:`kubemedic.domain.knowledge` ranks runbook documents for an incident (BM25).
- :mod:`kubemedic.domain.prompt` builds the LLM prompt: a cacheable static prefix, then
  the incident's evidence within token budgets.
- :mod:`kubemedic.domain.llm_output` defines, validates and combines the LLM's answer.
"""
