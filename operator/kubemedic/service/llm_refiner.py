"""The LLM stage of a diagnosis: a :class:`~kubemedic.service.diagnosis_pipeline.DiagnosisRefiner`.

For every incident, after the rule engine (:func:`LLMRefiner.refine`):

1. Rank the runbook knowledge (ConfigMaps, :mod:`kubemedic.clients.knowledge`) with BM25 and
   append the most relevant documents to the rules' runbook. This happens **with or without
   an LLM**: with no ``KUBEMEDIC_LLM_URL`` the refiner does only this and reports
   ``LLMDiagnosed=False`` with reason ``LLMDisabled``.
2. Build the prompt (:mod:`kubemedic.domain.prompt`): static prefix, redacted evidence,
   within the token budget measured with the configured tokenizer; without one, with an
   estimate calibrated by vLLM's ``/tokenize`` and a ``/tokenize`` check of the whole prompt
   (rebuilt smaller if it is over).
3. Ask the model (:mod:`kubemedic.clients.llm`), with vLLM ``priority`` for Critical/High.
4. Validate the answer (:mod:`kubemedic.domain.llm_output`); if it is invalid, send one
   repair request listing the problems; if that is invalid too, fall back.
5. Check every proposed action against the catalog and the incident's scope (refusals are
   recorded in ``status.diagnosis.llm.rejectedActions`` and the condition message), and
   combine with the rules.

Whatever fails — no endpoint, open breakers, timeouts, a refused request, an invalid
answer, a bug — the rules' diagnosis (with the knowledge) stands and the ``LLMDiagnosed``
condition says why (``LLMUnavailable`` or ``LLMInvalidAnswer``): an incident is never left
undiagnosed because the LLM is down.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import math
import time
from collections.abc import Sequence
from typing import Final, Protocol

from kubemedic import metrics
from kubemedic.clients.knowledge import ConfigMapKnowledge
from kubemedic.clients.kube import KubeReader
from kubemedic.clients.llm import ChatResult, LLMClient, LLMRequestError, LLMUnavailableError
from kubemedic.clients.tokenizer import TokenizerError, load_token_counter
from kubemedic.domain import knowledge as knowledge_domain
from kubemedic.domain import llm_output, safety
from kubemedic.domain.prompt import (
    ChatMessage,
    Prompt,
    PromptBudget,
    TokenCounter,
    build_prompt,
    build_static_prefix,
)
from kubemedic.domain.redaction import Redactor
from kubemedic.models.bundle import IncidentBundle
from kubemedic.models.conditions import ConditionReason, ConditionStatus, ConditionType
from kubemedic.models.diagnosis import Diagnosis, RejectedAction
from kubemedic.models.incident import IncidentSpec, Severity
from kubemedic.service.diagnosis_pipeline import StageReport
from kubemedic.settings import OperatorSettings

logger = logging.getLogger(__name__)

#: vLLM serves lower ``priority`` values first; other severities send none (0).
PRIORITY_BY_SEVERITY: Final = {Severity.CRITICAL: -10, Severity.HIGH: -5}
#: Characters per token assumed when neither a tokenizer nor /tokenize is available;
#: low on purpose (logs and JSON tokenize densely), so the estimate errs on the safe side.
DEFAULT_CHARS_PER_TOKEN: Final = 3.0
#: Tokens kept free between the prompt, the answer and ``max_model_len``.
CONTEXT_MARGIN_TOKENS: Final = 64
MAX_REPAIR_ECHO: Final = 4000
MAX_MESSAGE: Final = 1024


class KnowledgeSource(Protocol):
    """Where runbook documents come from (ConfigMaps in production, a list in tests)."""

    async def documents(self) -> Sequence[knowledge_domain.KnowledgeDoc]: ...


@dataclasses.dataclass(frozen=True)
class RefinerOptions:
    """How the refiner builds prompts and uses the answer."""

    budget: PromptBudget = dataclasses.field(default_factory=PromptBudget)
    max_completion_tokens: int = 2048
    runbook_documents: int = knowledge_domain.RUNBOOK_DOCUMENTS
    use_priority: bool = True


class _InvalidAnswerError(Exception):
    pass


def _report(status: ConditionStatus, reason: ConditionReason, message: str) -> StageReport:
    return StageReport(
        condition_type=ConditionType.LLM_DIAGNOSED.value,
        status=status,
        reason=reason,
        message=message if len(message) <= MAX_MESSAGE else message[: MAX_MESSAGE - 1] + "…",
    )


def estimate_counter(chars_per_token: float) -> TokenCounter:
    """A token counter that assumes ``chars_per_token`` characters per token."""

    def count(text: str) -> int:
        return math.ceil(len(text) / chars_per_token)

    return count


class LLMRefiner:
    """Runbook knowledge always; the LLM's opinion when a client is configured."""

    def __init__(
        self,
        *,
        client: LLMClient | None,
        knowledge: KnowledgeSource | None = None,
        redactor: Redactor | None = None,
        counter: TokenCounter | None = None,
        options: RefinerOptions | None = None,
    ) -> None:
        self.client = client
        self.knowledge = knowledge
        self.redactor = redactor or Redactor()
        # NB: the static prefix and the knowledge documents are the same text for every
        # incident; their token counts are remembered.
        self.counter = functools.lru_cache(maxsize=256)(counter) if counter else None
        self.options = options or RefinerOptions()
        self._chars_per_token: float | None = None

    async def aclose(self) -> None:
        if self.client is not None:
            await self.client.close()

    async def refine(
        self, bundle: IncidentBundle, rules: Diagnosis, *, spec: IncidentSpec
    ) -> tuple[Diagnosis, StageReport | None]:
        ranked = await self._ranked_knowledge(bundle, rules, spec)
        base = rules
        if self.options.runbook_documents > 0:
            base = knowledge_domain.attach_knowledge(
                rules, ranked, limit=self.options.runbook_documents
            )
        if self.client is None:
            return base, _report(
                ConditionStatus.FALSE,
                ConditionReason.LLM_DISABLED,
                "No LLM endpoint is configured (KUBEMEDIC_LLM_URL); the rules' diagnosis stands.",
            )
        try:
            return await self._ask(self.client, bundle, base, spec=spec, ranked=ranked)
        except LLMUnavailableError as exc:
            return self._fallback(base, "unavailable", ConditionReason.LLM_UNAVAILABLE, str(exc))
        except LLMRequestError as exc:
            return self._fallback(base, "refused", ConditionReason.LLM_UNAVAILABLE, str(exc))
        except _InvalidAnswerError as exc:
            return self._fallback(
                base,
                "invalid_answer",
                ConditionReason.LLM_INVALID_ANSWER,
                f"the answer was invalid twice (after one repair request): {exc}",
            )
        except Exception as exc:
            # NB: the LLM stage is optional; a bug in it must not leave an incident
            # undiagnosed. It is logged with its traceback and counted.
            logger.exception("LLM stage failed for %s", bundle.target.display())
            return self._fallback(
                base, "error", ConditionReason.LLM_UNAVAILABLE, f"internal error: {exc!r}"
            )

    def _fallback(
        self, base: Diagnosis, reason: str, condition_reason: ConditionReason, detail: str
    ) -> tuple[Diagnosis, StageReport]:
        metrics.LLM_FALLBACKS.labels(reason=reason).inc()
        logger.warning("LLM diagnosis fell back to the rules (%s): %s", reason, detail)
        return base, _report(
            ConditionStatus.FALSE,
            condition_reason,
            f"The rules' diagnosis stands: {detail}".rstrip(".") + ".",
        )

    async def _ranked_knowledge(
        self, bundle: IncidentBundle, rules: Diagnosis, spec: IncidentSpec
    ) -> list[knowledge_domain.RankedDoc]:
        if self.knowledge is None:
            return []
        try:
            docs = await self.knowledge.documents()
        except Exception:
            logger.warning("runbook knowledge unavailable", exc_info=True)
            return []
        extra = [
            bundle.target.kind.value,
            spec.summary,
            *(a.labels.get("alertname", "") for a in bundle.alerts),
        ]
        query = knowledge_domain.incident_query(rules, extra=extra)
        return knowledge_domain.rank_knowledge(docs, category=rules.category, query=query)

    async def _counter(self, client: LLMClient, sample: str) -> tuple[TokenCounter, bool]:
        """The token counter and whether it is exact (the model's tokenizer)."""
        if self.counter is not None:
            return self.counter, True
        if self._chars_per_token is None:
            counted = await client.count_tokens(sample)
            self._chars_per_token = len(sample) / counted if counted else DEFAULT_CHARS_PER_TOKEN
        return estimate_counter(self._chars_per_token), False

    async def _ask(
        self,
        client: LLMClient,
        bundle: IncidentBundle,
        base: Diagnosis,
        *,
        spec: IncidentSpec,
        ranked: Sequence[knowledge_domain.RankedDoc],
    ) -> tuple[Diagnosis, StageReport]:
        info = await client.server_info()
        budget = self.options.budget
        if info.max_model_len:
            fits = info.max_model_len - self.options.max_completion_tokens - CONTEXT_MARGIN_TOKENS
            if fits < budget.total_tokens:
                budget = dataclasses.replace(budget, total_tokens=max(fits, 256))
        scope = llm_output.action_scope(bundle)
        docs = [r.doc for r in ranked]
        counter, exact = await self._counter(client, _calibration_sample())

        def prompt_for(b: PromptBudget) -> Prompt:
            return incident_prompt(
                bundle,
                rules=base,
                spec=spec,
                knowledge=docs,
                counter=counter,
                redactor=self.redactor,
                budget=b,
            )

        prompt = prompt_for(budget)
        if not exact:
            measured = await client.count_tokens(_joined(prompt.messages))
            if measured and measured > budget.total_tokens:
                prompt = prompt_for(budget.scaled(budget.total_tokens / measured * 0.95))
        metrics.LLM_PROMPT_TOKENS.observe(prompt.total_tokens)
        priority = PRIORITY_BY_SEVERITY.get(spec.severity) if self.options.use_priority else None
        response_format = llm_output.response_format()
        result = await client.complete(
            messages=prompt.messages,
            response_format=response_format,
            max_tokens=self.options.max_completion_tokens,
            priority=priority,
        )
        results = [result]
        try:
            answer = llm_output.parse_answer(result.content)
        except llm_output.InvalidAnswerError as first:
            logger.info("LLM answer invalid (%s); asking once to repair it", first)
            repair: list[ChatMessage] = [
                *prompt.messages,
                ChatMessage(role="assistant", content=result.content[:MAX_REPAIR_ECHO]),
                ChatMessage(role="user", content=llm_output.repair_request(first.problems)),
            ]
            result = await client.complete(
                messages=repair,
                response_format=response_format,
                max_tokens=self.options.max_completion_tokens,
                priority=priority,
            )
            results.append(result)
            try:
                answer = llm_output.parse_answer(result.content)
            except llm_output.InvalidAnswerError as second:
                raise _InvalidAnswerError(str(second)) from second
        accepted, rejected = llm_output.check_actions(answer.actions, scope)
        accepted, vetoed = safety.screen(bundle, answer.category, accepted)
        rejected.extend(
            RejectedAction(
                type=a.type.value, target=safety.display_ref(a.target), reason=reason[:1024]
            )
            for a, reason in vetoed
        )
        evidence, unknown_refs = llm_output.check_evidence(answer.evidence, prompt.refs)
        usage = _usage(results)
        combined = llm_output.combine(
            base,
            answer,
            accepted=accepted,
            rejected=rejected,
            evidence=evidence,
            usage=usage,
        )
        agreement = combined.llm.agreement if combined.llm else None
        metrics.LLM_DIAGNOSES.labels(agreement=str(agreement)).inc()
        if rejected:
            metrics.LLM_REJECTED_ACTIONS.inc(len(rejected))
            for item in rejected:
                logger.warning(
                    "refused LLM action %s on %s for %s: %s",
                    item.type,
                    item.target,
                    bundle.target.display(),
                    item.reason,
                )
        message = (
            f"{usage.model} answered in {usage.latency_seconds:.1f}s "
            f"({len(results)} request(s), {usage.prompt_tokens}+{usage.completion_tokens} "
            f"tokens): {answer.category.value} ({answer.confidence:.0%}), {agreement}."
        )
        if rejected:
            message += f" Refused {len(rejected)} proposed action(s): " + "; ".join(
                f"{r.type} {r.target}: {r.reason}" for r in rejected[:3]
            )
        if unknown_refs:
            message += f" Dropped {len(unknown_refs)} evidence item(s) citing unknown ids."
        return combined, _report(ConditionStatus.TRUE, ConditionReason.LLM_ANSWERED, message)


def _usage(results: Sequence[ChatResult]) -> llm_output.Usage:
    return llm_output.Usage(
        model=results[-1].model,
        prompt_tokens=sum(r.prompt_tokens for r in results),
        completion_tokens=sum(r.completion_tokens for r in results),
        latency_seconds=sum(r.latency_seconds for r in results),
    )


def _joined(messages: Sequence[ChatMessage]) -> str:
    return "\n".join(m["content"] for m in messages)


def _calibration_sample() -> str:
    # NB: the fixed part of the prompt: English, markdown and JSON, like the rest of it.
    return build_static_prefix((), redactor=Redactor())


def incident_prompt(
    bundle: IncidentBundle,
    *,
    rules: Diagnosis,
    spec: IncidentSpec | None,
    knowledge: Sequence[knowledge_domain.KnowledgeDoc],
    counter: TokenCounter,
    redactor: Redactor,
    budget: PromptBudget,
) -> Prompt:
    """The messages the operator sends the model for ``bundle``: scoped to the incident's
    objects, fitted to ``budget`` and redacted. ``kubemedic prompt`` shows exactly these."""
    return build_prompt(
        bundle,
        rules=rules,
        spec=spec,
        scope=llm_output.action_scope(bundle),
        knowledge=knowledge,
        counter=counter,
        redactor=redactor,
        budget=budget,
    )


def redactor_from_settings(settings: OperatorSettings) -> Redactor:
    """The redactor of the settings: extra patterns and the allow-lists of structured fields."""
    return Redactor.with_extra_patterns(
        settings.llm_redact_patterns,
        env_values=settings.llm_send_env_values,
        command_containers=settings.llm_send_commands,
    )


def budget_from_settings(settings: OperatorSettings) -> PromptBudget:
    return PromptBudget(
        total_tokens=settings.llm_prompt_token_budget,
        knowledge_tokens=settings.llm_knowledge_token_budget,
    )


def build_refiner(settings: OperatorSettings, *, reader: KubeReader | None) -> LLMRefiner:
    """The refiner the operator uses: knowledge from ConfigMaps (when ``reader`` is given and
    documents are wanted), and an LLM client when ``llm_urls`` is set."""
    knowledge: KnowledgeSource | None = None
    if reader is not None:
        knowledge = ConfigMapKnowledge(
            reader,
            namespace=settings.operator_namespace,
            extra_namespaces=settings.runbook_knowledge_namespaces,
            ttl_seconds=settings.runbook_knowledge_ttl_seconds,
        )
    client: LLMClient | None = None
    counter: TokenCounter | None = None
    if settings.llm_urls:
        client = LLMClient(
            urls=settings.llm_urls,
            model=settings.llm_model or None,
            api_key=settings.llm_api_key.get_secret_value() or None,
            request_timeout=settings.llm_request_timeout_seconds,
            total_timeout=settings.llm_total_timeout_seconds,
            max_attempts=settings.llm_max_attempts,
            backoff_initial=settings.llm_backoff_initial_seconds,
            backoff_max=settings.llm_backoff_max_seconds,
            max_concurrency=settings.llm_max_concurrency,
            breaker_threshold=settings.llm_breaker_failure_threshold,
            breaker_reset=settings.llm_breaker_reset_seconds,
            health_interval=settings.llm_health_interval_seconds,
        )
        if settings.llm_tokenizer:
            started = time.perf_counter()
            try:
                counter = load_token_counter(settings.llm_tokenizer)
            except TokenizerError as exc:
                logger.warning("%s; measuring prompts with the server's /tokenize instead", exc)
            else:
                logger.info(
                    "loaded tokenizer %s in %.1fs",
                    settings.llm_tokenizer,
                    time.perf_counter() - started,
                )
    options = RefinerOptions(
        budget=budget_from_settings(settings),
        max_completion_tokens=settings.llm_max_completion_tokens,
        runbook_documents=settings.runbook_knowledge_documents,
        use_priority=settings.llm_priority,
    )
    return LLMRefiner(
        client=client,
        knowledge=knowledge,
        redactor=redactor_from_settings(settings),
        counter=counter,
        options=options,
    )


__all__ = [
    "PRIORITY_BY_SEVERITY",
    "KnowledgeSource",
    "LLMRefiner",
    "RefinerOptions",
    "budget_from_settings",
    "build_refiner",
    "estimate_counter",
    "incident_prompt",
    "redactor_from_settings",
]
