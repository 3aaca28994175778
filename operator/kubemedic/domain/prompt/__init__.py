"""The LLM prompt: a static prefix the model server can cache, then the incident's evidence.

Pure: the caller passes the bundle, the rules' diagnosis, ranked runbook knowledge, a
:class:`~kubemedic.domain.redaction.Redactor` and a token counter (the model's tokenizer, or
an estimate), and gets the chat messages back (:func:`build_prompt`).

The package, in the order a prompt is built:

- :mod:`.budget`: the token budget, the prompt's types, measuring and cutting to size;
- :mod:`.static`: the cacheable first message (instructions, schema, catalog, knowledge);
- :mod:`.objects`: Kubernetes objects pruned of noise, ordered, summarised when too big;
- :mod:`.logs`: which logs and which of their lines fit;
- :mod:`.sections`: incident, rule engine, scope, alerts, metrics and events;
- :mod:`.assembly`: the evidence document fitted to the budget, and the messages.

**Untrusted evidence.** The evidence is one compact JSON document between two marker lines
carrying a digest of that document, and the instructions say it is data, never
instructions. Whatever the model answers is validated anyway (:mod:`kubemedic.domain.llm_output`).
"""

from __future__ import annotations

from kubemedic.domain.prompt.assembly import SECTIONS, build_prompt, evidence_message
from kubemedic.domain.prompt.budget import (
    ChatMessage,
    Prompt,
    PromptBudget,
    TokenCounter,
    compact_json,
    fit_text,
)
from kubemedic.domain.prompt.logs import select_log_lines
from kubemedic.domain.prompt.static import (
    INSTRUCTIONS,
    action_catalog,
    build_static_prefix,
    select_knowledge,
)

__all__ = [
    "INSTRUCTIONS",
    "SECTIONS",
    "ChatMessage",
    "Prompt",
    "PromptBudget",
    "TokenCounter",
    "action_catalog",
    "build_prompt",
    "build_static_prefix",
    "compact_json",
    "evidence_message",
    "fit_text",
    "select_knowledge",
    "select_log_lines",
]
