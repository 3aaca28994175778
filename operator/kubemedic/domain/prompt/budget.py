"""Token budgets and fitting: the budget, the prompt's types, measuring and cutting to size.

Every section is measured with the caller's token counter (the model's tokenizer, or an
estimate) as the compact JSON it will be sent as; :func:`finish` drops a section's last
entries until the whole section fits, and says how many were left out.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final, TypedDict

TokenCounter = Callable[[str], int]

#: Tokens reserved for the chat template (role markers, special tokens).
TEMPLATE_OVERHEAD_TOKENS: Final = 48
#: No tokenizer packs more characters than this into one token (long whitespace runs aside);
#: texts are cut to ``tokens * MAX_CHARS_PER_TOKEN`` characters before they are measured.
MAX_CHARS_PER_TOKEN: Final = 16
#: Characters of a log's end that are looked at (the bundle keeps 64 KiB per log).
LOG_WINDOW_CHARS: Final = 128 * 1024
MAX_LINE_CHARS: Final = 1000
#: The least budget one log gets; fewer logs are shown when the budget is small.
MIN_LOG_TOKENS: Final = 128
MAX_EVENT_MESSAGE: Final = 512
MAX_RULE_EVIDENCE: Final = 400
MAX_OMITTED_IDS: Final = 40
TRUNCATED: Final = "…"


class ChatMessage(TypedDict):
    """One message of an OpenAI-style chat request."""

    role: str
    content: str


@dataclasses.dataclass(frozen=True)
class PromptBudget:
    """Token budgets: the whole prompt, the knowledge section, and shares of the evidence."""

    total_tokens: int = 8192
    knowledge_tokens: int = 2048
    max_knowledge_doc_tokens: int = 768
    incident_share: float = 0.05
    rules_share: float = 0.10
    scope_share: float = 0.04
    alerts_share: float = 0.05
    metrics_share: float = 0.05
    events_share: float = 0.15
    objects_share: float = 0.30
    max_logs: int = 8
    error_line_share: float = 0.4

    def scaled(self, factor: float) -> PromptBudget:
        """The same budget with ``total_tokens`` scaled (used after an exact count)."""
        return dataclasses.replace(self, total_tokens=max(int(self.total_tokens * factor), 256))


@dataclasses.dataclass(frozen=True)
class Prompt:
    """The chat messages and what went into them."""

    messages: tuple[ChatMessage, ...]
    static_prefix: str
    static_tokens: int
    total_tokens: int
    refs: frozenset[str]
    knowledge: tuple[str, ...]
    omitted: Mapping[str, int]

    @property
    def static_share(self) -> float:
        """The share of the prompt's tokens that is the cacheable static prefix."""
        return self.static_tokens / self.total_tokens if self.total_tokens else 0.0


def compact_json(value: Any) -> str:
    """Compact JSON with sorted keys: the same value is always the same bytes."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


# -- text fitting ---------------------------------------------------------------------------


def count_tokens(counter: TokenCounter, text: str) -> int:
    return counter(text) if text else 0


def fit_text(text: str, max_tokens: int, counter: TokenCounter, *, keep: str = "head") -> str:
    """``text`` cut (at its end for ``keep="head"``, start for ``"tail"``) to ``max_tokens``."""
    if max_tokens <= 0:
        return ""
    limit = max_tokens * MAX_CHARS_PER_TOKEN
    if len(text) > limit:
        text = text[:limit] if keep == "head" else text[-limit:]
    tokens = count_tokens(counter, text)
    if tokens <= max_tokens:
        return text
    chars = int(len(text) * max_tokens / tokens * 0.95)
    for _ in range(6):
        candidate = (
            text[: max(chars, 0)] + TRUNCATED if keep == "head" else TRUNCATED + text[-chars:]
        )
        if chars <= 0:
            return ""
        used = count_tokens(counter, candidate)
        if used <= max_tokens:
            return candidate
        chars = int(chars * max_tokens / used * 0.9)
    return ""


@dataclasses.dataclass
class Section:
    value: Any
    tokens: int
    omitted: int = 0
    refs: tuple[str, ...] = ()


def measure(counter: TokenCounter, value: Any) -> int:
    return count_tokens(counter, compact_json(value))


def finish(
    entries: list[dict[str, Any]],
    *,
    counter: TokenCounter,
    budget: int,
    omitted: int = 0,
    omitted_ids: list[str] | None = None,
) -> Section:
    """The section's value, measured whole; the last entries are dropped until it fits
    (the per-entry sums miss the list's own punctuation and the omitted list)."""
    ids = list(omitted_ids) if omitted_ids is not None else None
    while True:
        value: dict[str, Any] = {"items": entries}
        if ids:
            value["omittedIds"] = ids[:MAX_OMITTED_IDS]
        elif omitted:
            value["omitted"] = omitted
        tokens = measure(counter, value)
        if tokens <= budget or not entries:
            dropped = len(ids) if ids is not None else omitted
            return Section(value, tokens, dropped, tuple(str(e["id"]) for e in entries))
        last = entries.pop()
        if ids is not None:
            ids.insert(0, str(last["id"]))
        else:
            omitted += 1


def fit_list(
    items: Sequence[dict[str, Any]], *, counter: TokenCounter, budget: int
) -> tuple[list[dict[str, Any]], int, int]:
    kept: list[dict[str, Any]] = []
    used = 0
    for item in items:
        size = measure(counter, item) if used < budget else budget + 1
        if used + size > budget:
            break
        kept.append(item)
        used += size
    return kept, used, len(items) - len(kept)
