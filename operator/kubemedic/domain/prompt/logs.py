"""Container logs for the prompt: which logs, and which lines of each fit the budget.

The previous (crashed) container's log before current logs, unhealthy pods first, at most
``max_logs`` logs; within a log, error lines (newest first) take up to ``error_line_share`` of
its budget, then the newest lines fill the rest; consecutive repeats are collapsed, long lines
cut, and gaps marked. Previous logs weigh double when the log budget is split, so a crash's
last words are kept.
"""

from __future__ import annotations

import bisect
import dataclasses
import functools
import itertools
import json
from collections.abc import Iterable, Sequence

from kubemedic.domain import view
from kubemedic.domain.analyzers.vocabulary import ERROR_LINE_RE
from kubemedic.domain.prompt.budget import (
    LOG_WINDOW_CHARS,
    MAX_CHARS_PER_TOKEN,
    MAX_LINE_CHARS,
    MIN_LOG_TOKENS,
    TRUNCATED,
    Section,
    TokenCounter,
    count_tokens,
    finish,
    measure,
)
from kubemedic.domain.prompt.objects import pod_unhealthy
from kubemedic.domain.prompt.redacting import Redacts
from kubemedic.models.bundle import ContainerLog

#: Keys dropped from objects anywhere: bookkeeping that never helps a diagnosis.


def select_log_lines(
    text: str, *, max_tokens: int, counter: TokenCounter, error_share: float
) -> tuple[str, int]:
    """The lines of one (redacted) log that fit ``max_tokens``, and how many were left out.

    Error lines (newest first) get up to ``error_share`` of the budget, the newest lines the
    rest; the result keeps log order, with ``… N lines omitted …`` where lines were cut.
    """
    prepared = _prepare_log(text)
    lines, errors, raw_count = prepared.lines, prepared.errors, prepared.raw_count
    if max_tokens <= 0 or not lines:
        return "", raw_count
    joined = prepared.joined
    # NB: a log far larger than the budget is not tokenized whole: its density is measured
    # on its newest 8 KiB.
    if len(joined) <= max_tokens * MAX_CHARS_PER_TOKEN:
        total = count_tokens(counter, joined)
        if total <= max_tokens:
            return joined, raw_count - _line_total(lines)
        chars_per_token = len(joined) / max(total, 1)
    else:
        sample = joined[-8192:]
        chars_per_token = len(sample) / max(count_tokens(counter, sample), 1)
    char_budget = max_tokens * chars_per_token
    for _ in range(6):
        chosen = _choose_lines(lines, errors, char_budget=char_budget, error_share=error_share)
        rendered = _render_lines(lines, chosen)
        used = count_tokens(counter, rendered)
        if used <= max_tokens:
            return rendered, raw_count - _line_total([lines[i] for i in chosen])
        char_budget *= max_tokens / used * 0.9
    return "", raw_count


@dataclasses.dataclass(frozen=True)
class _PreparedLog:
    lines: tuple[str, ...]
    errors: tuple[int, ...]
    raw_count: int
    joined: str


@functools.lru_cache(maxsize=16)
def _prepare_log(text: str) -> _PreparedLog:
    """Lines clipped, consecutive repeats collapsed, error lines found: once per text (the
    same log is fitted to several budgets while a prompt is built)."""
    raw_lines = text.splitlines()
    lines: list[str] = []
    for line in raw_lines:
        clipped = line if len(line) <= MAX_LINE_CHARS else line[:MAX_LINE_CHARS] + TRUNCATED
        if lines and (lines[-1] == clipped or lines[-1].startswith(clipped + " [repeated ")):
            times = 2
            if lines[-1] != clipped:
                times = int(lines[-1].rsplit("[repeated ", 1)[1].split(" ", 1)[0]) + 1
            lines[-1] = f"{clipped} [repeated {times} times]"
            continue
        lines.append(clipped)
    return _PreparedLog(
        lines=tuple(lines),
        errors=tuple(error_lines(lines)),
        raw_count=len(raw_lines),
        joined="\n".join(lines),
    )


def error_lines(lines: Sequence[str]) -> list[int]:
    """Indices of the lines that look like errors (one regex pass over the whole text)."""
    starts = list(itertools.accumulate((len(line) + 1 for line in lines), initial=0))
    text = "\n".join(lines).lower()
    found: list[int] = []
    for match in ERROR_LINE_RE.finditer(text):
        index = bisect.bisect_right(starts, match.start()) - 1
        if not found or found[-1] != index:
            found.append(index)
    return found


def _line_total(lines: Iterable[str]) -> int:
    total = 0
    for line in lines:
        if line.endswith(" times]") and " [repeated " in line:
            total += int(line.rsplit("[repeated ", 1)[1].split(" ", 1)[0])
        else:
            total += 1
    return total


def _choose_lines(
    lines: Sequence[str], errors: Sequence[int], *, char_budget: float, error_share: float
) -> list[int]:
    chosen: set[int] = set()
    used = 0.0
    # NB: the newest error line first, if it fits at all: a crash's one panic line matters
    # more than anything around it, the container's last line included.
    if errors and len(lines[errors[-1]]) + 1 <= char_budget:
        chosen.add(errors[-1])
        used += len(lines[errors[-1]]) + 1
    # Then the last line: what the container said last.
    last = len(lines) - 1
    if last not in chosen and used + len(lines[last]) + 1 <= max(char_budget / 2, used):
        chosen.add(last)
        used += len(lines[last]) + 1
    for i in reversed(errors[:-1]):
        cost = len(lines[i]) + 1
        if i not in chosen and used + cost <= char_budget * error_share:
            chosen.add(i)
            used += cost
    for i in range(len(lines) - 1, -1, -1):
        if i in chosen:
            continue
        cost = len(lines[i]) + 1
        if used + cost > char_budget:
            break
        chosen.add(i)
        used += cost
    return sorted(chosen)


def _render_lines(lines: Sequence[str], chosen: Sequence[int]) -> str:
    out: list[str] = []
    previous = -1
    for i in chosen:
        gap = i - previous - 1
        if gap > 0:
            out.append(f"{TRUNCATED} {gap} lines omitted {TRUNCATED}")
        out.append(lines[i])
        previous = i
    tail_gap = len(lines) - previous - 1
    if tail_gap > 0 and chosen:
        out.append(f"{TRUNCATED} {tail_gap} lines omitted {TRUNCATED}")
    return "\n".join(out)


def _log_id(log: ContainerLog) -> str:
    return f"log:{log.pod}/{log.container}" + (":previous" if log.previous else "")


def ordered_logs(index: view.BundleView, logs: Sequence[ContainerLog]) -> list[ContainerLog]:
    """The incident's pods before any other; among them previous (crashed) containers'
    logs first, then unhealthy pods' current logs; then by name."""
    pods = index.scope_pods()
    in_scope = {(view.namespace_of(p), view.name_of(p)) for p in pods}
    unhealthy = {(view.namespace_of(p), view.name_of(p)) for p in pods if pod_unhealthy(p)}
    return sorted(
        logs,
        key=lambda log: (
            (log.namespace, log.pod) not in in_scope,
            not log.previous,
            (log.namespace, log.pod) not in unhealthy,
            log.namespace,
            log.pod,
            log.container,
        ),
    )


def logs_section(
    index: view.BundleView,
    *,
    redactor: Redacts,
    counter: TokenCounter,
    budget: int,
    max_logs: int,
    error_share: float,
) -> Section:
    ordered = ordered_logs(index, index.bundle.logs)
    # NB: a few useful logs beat many empty ones: each gets at least MIN_LOG_TOKENS.
    count = min(max_logs, max(1, budget // MIN_LOG_TOKENS))
    chosen, skipped = ordered[:count], len(ordered) - min(len(ordered), count)
    if not chosen or budget <= 0:
        return Section({"items": [], "omitted": len(ordered)} if ordered else {"items": []}, 0)
    texts = [redactor.redact_text(log.text[-LOG_WINDOW_CHARS:]) for log in chosen]

    def escaped(text: str) -> int:
        # NB: the text is sent as a JSON string: newlines, tabs and quotes cost tokens
        # as escapes.
        return count_tokens(counter, json.dumps(text, ensure_ascii=False)[1:-1])

    in_scope = {(view.namespace_of(p), view.name_of(p)) for p in index.scope_pods()}
    # NB: a crashed container's previous log weighs most, other pods' logs least.
    weights = [
        (2.0 if log.previous else 1.0) * (1.0 if (log.namespace, log.pod) in in_scope else 0.25)
        for log in chosen
    ]
    overhead = [
        measure(
            counter,
            {
                "id": _log_id(log),
                "pod": log.pod,
                "container": log.container,
                "previous": log.previous,
                "omittedLines": 9_999_999,
                "text": "",
            },
        )
        for log in chosen
    ]
    wrapper = measure(counter, {"items": [], "omitted": len(ordered)})
    # NB: a few tokens per log for where the text meets the JSON around it.
    available = max(budget - sum(overhead) - wrapper - 4 * len(chosen), 0)
    shares = [available * w / sum(weights) for w in weights]
    results = [
        select_log_lines(text, max_tokens=int(share), counter=escaped, error_share=error_share)
        for text, share in zip(texts, shares, strict=True)
    ]
    # Second pass: what short logs did not use goes to the logs that were cut.
    used = [escaped(text) for text, _ in results]
    cut = [i for i, (_, omitted) in enumerate(results) if omitted > 0]
    spare = sum(shares[i] - used[i] for i in range(len(results)) if i not in cut)
    if spare > 0 and cut:
        cut_weight = sum(weights[i] for i in cut)
        for i in cut:
            bigger = int(shares[i] + spare * weights[i] / cut_weight)
            results[i] = select_log_lines(
                texts[i], max_tokens=bigger, counter=escaped, error_share=error_share
            )
    entries = []
    for log, (text, omitted_lines) in zip(chosen, results, strict=True):
        extra_lines = (
            log.text[:-LOG_WINDOW_CHARS].count("\n") if len(log.text) > LOG_WINDOW_CHARS else 0
        )
        entries.append(
            {
                "id": _log_id(log),
                "namespace": log.namespace,
                "pod": log.pod,
                "container": log.container,
                "previous": log.previous,
                "omittedLines": omitted_lines + extra_lines,
                "text": text,
            }
        )
    return finish(entries, omitted=skipped, counter=counter, budget=budget)
