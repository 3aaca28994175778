"""Log templates: group log lines by the message that printed them, streaming, in bounded memory.

Two steps, no per-format configuration:

1. :func:`extract_message` finds the message part of a line. JSON logs (``msg``,
   ``message``, ``log``, ...; the docker ``log`` field is read again), logfmt (``msg=``),
   klog (``I1203 19:07:04.123456  1 file.go:42] message``), syslog (``Dec 10 06:55:46 host
   sshd[24200]: message``) and log4j-like headers (date, time, ``[thread]``, level, logger,
   ``-``) are recognised by their shape; anything else goes through a generic header scanner
   that drops leading timestamps, numbers, levels, bracketed fields and one ``component:``
   token. A line with no recognisable header is its own message.
2. :class:`TemplateMiner` is a Drain-like miner (He et al., ICWS 2017): tokens that look
   like values (numbers, hex, IPs, ids with digits) are masked first; lines are routed by
   token count and their first tokens through a fixed-depth prefix tree, then joined to the
   most similar template in that leaf when enough positions agree, and the template turns the
   positions that differ into ``<*>``.

Why our own miner and not ``drain3`` (measured in ``bench/loghub_grouping.py``): ``drain3``
pins old ``cachetools`` and ``jsonpickle`` releases that would constrain the operator's
environment, and with the same message extraction our masking groups the Loghub samples
better with one configuration for all systems (figures in BENCHMARKS.md).

Memory is bounded: at most ``max_clusters`` templates are kept (the least recently used one
is forgotten when a new one is needed) and each prefix-tree node has at most
``max_children`` children (more go to a ``<*>`` child). Lines themselves are never kept.
"""

from __future__ import annotations

import json
import re
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

WILDCARD: Final = "<*>"
#: Keys that hold the message of a JSON log line, most specific first.
JSON_MESSAGE_KEYS: Final = ("msg", "message", "MESSAGE", "log", "text", "event", "error")
#: At most this many leading tokens are looked at as a header.
MAX_HEADER_TOKENS: Final = 14
#: Upper-case facility words (``RAS KERNEL``) that may stand between a header and its level.
_LEVEL_LOOKAHEAD: Final = 2
#: What an agreeing masked value counts for in the similarity (an agreeing word counts 1).
WILDCARD_WEIGHT: float = 1.0
#: Defaults of the one configuration used for every system in the benchmark.
DEFAULT_SIMILARITY: Final = 0.8
DEFAULT_DEPTH: Final = 3
DEFAULT_MAX_CHILDREN: Final = 100
DEFAULT_MAX_CLUSTERS: Final = 5000

_KLOG_RE: Final = re.compile(
    r"^[IWEF]\d{4}\s+\d{2}:\d{2}:\d{2}(?:\.\d+)?\s+\d+\s+[\w.\-/]+:\d+\]\s?(?P<msg>.*)$"
)
_SYSLOG_RE: Final = re.compile(
    r"^(?:<\d{1,3}>\d?\s*)?(?:[A-Z][a-z]{2}\s+\d{1,2}\s+\d{2}:\d{2}:\d{2}|"
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?)"
    r"\s+(?P<host>[\w.\-]+)\s+(?P<tag>[\w.\-/()]+(?:\[\d+\])?):\s(?P<msg>.*)$"
)
_LOGFMT_START_RE: Final = re.compile(r"^[\w.\-]+=")
_LOGFMT_MSG_RE: Final = re.compile(r'(?:^|\s)(?:msg|message)=(?P<v>"(?:[^"\\]|\\.)*"|\S+)')
_BRACKETED_RE: Final = re.compile(r"^\s*(?:\[[^\]]{0,80}\]|\([^)]{0,80}\)|<\d{1,3}>)\s*")
_LEVELS: Final = frozenset(
    {
        "trace",
        "debug",
        "info",
        "notice",
        "warn",
        "warning",
        "error",
        "err",
        "crit",
        "critical",
        "fatal",
        "severe",
        "alert",
        "emerg",
        "panic",
        "v",
        "d",
        "i",
        "w",
        "e",
        "f",
    }
)
_CALENDAR: Final = frozenset(
    [
        "jan",
        "feb",
        "mar",
        "apr",
        "may",
        "jun",
        "jul",
        "aug",
        "sep",
        "oct",
        "nov",
        "dec",
        "mon",
        "tue",
        "wed",
        "thu",
        "fri",
        "sat",
        "sun",
    ]
)
#: A header field made only of digits and date/time punctuation (``081109``, ``04:30:30,``,
#: ``2005.06.03``, ``2016-09-28T10:00:00Z``, ``1117838570``).
_TIMEISH_RE: Final = re.compile(r"^[\d:.,\-/+TZ]*\d[\d:.,\-/+TZ]*$")
#: A host or node name with a digit in it (``dn228``, ``node-246``, ``R02-M1-N0-C:J12-U11``).
_NODEISH_RE: Final = re.compile(r"^(?=.*\d)[\w.:\-/@]+$")
#: ``component:`` / ``sshd[42]:`` / ``dfs.DataNode$PacketResponder:`` ends a header.
_COMPONENT_RE: Final = re.compile(r"^[\w.$\-/()\[\]<>@#]+:$")
_PROGRAM_RE: Final = re.compile(r"^[A-Za-z_$][\w$.\-]*(?:\s+\S{1,8})?\s+-\s+(?P<msg>\S.*)$")

#: Values masked before mining. Order matters: the longest shapes first.
_MASKS: Final = (
    re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?::\d+)?(?![\w.])"),  # IPv4[:port]
    re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"),
    re.compile(r"\b0[xX][0-9a-fA-F]+\b"),
    re.compile(r"(?<![\w.\-])[A-Za-z][\w\-]*(?:\.[\w\-]+)+:\d+\b"),  # host:port
)
_SPLIT_RE: Final = re.compile(r"[\s]+")
#: Inside a token, values sit between these delimiters (``uid=0``, ``taskID[42]``, ``(HWID=3)``).
_SUBTOKEN_RE: Final = re.compile(r"([=,:;()\[\]{}<>\"'|]+)")
_HAS_DIGIT_RE: Final = re.compile(r"\d")


def _header_token(token: str) -> bool:
    lowered = token.lower().strip("[]():,")
    return (
        token == "-"  # noqa: S105 - a dash field, not a password
        or bool(_TIMEISH_RE.match(token))
        or lowered in _LEVELS
        or lowered in _CALENDAR
        or bool(_NODEISH_RE.match(token))
    )


def _level_within(text: str, lookahead: int) -> str | None:
    """The text after a level word that follows up to ``lookahead`` upper-case words."""
    parts = text.split(None, lookahead + 1)
    for index, word in enumerate(parts[: lookahead + 1]):
        if word.lower() in _LEVELS and len(word) > 1 and index < len(parts) - 1:
            return text.split(None, index + 1)[-1]
        if not (word.isupper() and word.isalpha()):
            return None
    return None


def _strip_header(line: str) -> str:
    """Drop a generic header: timestamps, numbers, levels, brackets, one ``component:``."""
    rest = line
    consumed = 0
    while consumed < MAX_HEADER_TOKENS:
        bracketed = _BRACKETED_RE.match(rest)
        if bracketed and bracketed.end() < len(rest):
            rest = rest[bracketed.end() :]
            consumed += 1
            continue
        parts = re.split(r"[\s|]+", rest.lstrip(), maxsplit=1)
        if len(parts) < 2 or not parts[1]:
            break
        token, tail = parts
        if _header_token(token):
            rest = tail
            consumed += 1
            continue
        level_at = _level_within(rest, _LEVEL_LOOKAHEAD) if consumed else None
        if level_at is not None:
            # `RAS KERNEL INFO message`: upper-case facility words before a level are header.
            rest = level_at
            consumed += 1
            continue
        if consumed and _COMPONENT_RE.match(token):
            rest = tail
            break
        if consumed:
            # log4j: `LEVEL com.example.Service - message`; `[time] program.exe *64 - message`.
            program = _PROGRAM_RE.match(rest.lstrip())
            if program:
                rest = program.group("msg")
        break
    return rest.strip() or line.strip()


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        try:
            loaded = json.loads(value)
        except ValueError:
            return value[1:-1]
        return loaded if isinstance(loaded, str) else value[1:-1]
    return value


def extract_message(line: str, *, _depth: int = 0) -> str:
    """The message part of one log line (see the module docstring for the formats)."""
    text = line.strip()
    if text.startswith("{") and _depth < 2:
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if isinstance(data, dict):
            for key in JSON_MESSAGE_KEYS:
                value = data.get(key)
                if isinstance(value, str) and value.strip():
                    return extract_message(value, _depth=_depth + 1)
            return text
    klog = _KLOG_RE.match(text)
    if klog:
        return klog.group("msg").strip() or text
    if _LOGFMT_START_RE.match(text):
        logfmt = _LOGFMT_MSG_RE.search(text)
        if logfmt:
            return _unquote(logfmt.group("v")).strip() or text
    syslog = _SYSLOG_RE.match(text)
    if syslog:
        return syslog.group("msg").strip() or text
    return _strip_header(text)


def _mask_piece(piece: str, *, after_equals: bool) -> str:
    # NB: month and weekday names are values too (dates inside messages), and so is
    # whatever follows `key=` (`tag="AudioMix"`, `ws=null`).
    if not piece:
        return piece
    if after_equals or _HAS_DIGIT_RE.search(piece) or piece.lower() in _CALENDAR:
        return WILDCARD
    return piece


def tokenize(message: str) -> list[str]:
    """Tokens of a message with values masked as ``<*>`` (see ``_MASKS`` and sub-tokens)."""
    for mask in _MASKS:
        message = mask.sub(WILDCARD, message)
    tokens: list[str] = []
    for raw in _SPLIT_RE.split(message.strip()):
        if not raw:
            continue
        pieces = _SUBTOKEN_RE.split(raw)
        masked = [
            p if i % 2 else _mask_piece(p, after_equals=i > 0 and pieces[i - 1].endswith("="))
            for i, p in enumerate(pieces)
        ]
        tokens.append("".join(masked))
    return tokens


@dataclass
class Template:
    """One mined template: its tokens (``<*>`` where lines differ) and how many lines."""

    id: int
    tokens: list[str]
    count: int = 0

    @property
    def text(self) -> str:
        return " ".join(self.tokens)


@dataclass
class _Node:
    children: dict[str, _Node] = field(default_factory=dict)
    clusters: list[int] = field(default_factory=list)


class TemplateMiner:
    """A Drain-like streaming template miner with bounded memory (see the module docstring)."""

    def __init__(
        self,
        *,
        similarity: float = DEFAULT_SIMILARITY,
        depth: int = DEFAULT_DEPTH,
        max_children: int = DEFAULT_MAX_CHILDREN,
        max_clusters: int = DEFAULT_MAX_CLUSTERS,
    ) -> None:
        if not 0.0 < similarity <= 1.0:
            msg = f"similarity must be in (0, 1], got {similarity}"
            raise ValueError(msg)
        if depth < 1 or max_children < 1 or max_clusters < 1:
            msg = "depth, max_children and max_clusters must be at least 1"
            raise ValueError(msg)
        self.similarity = similarity
        self.depth = depth
        self.max_children = max_children
        self.max_clusters = max_clusters
        self._root = _Node()
        self._templates: OrderedDict[int, Template] = OrderedDict()
        self._leaf_of: dict[int, _Node] = {}
        self._next_id = 1

    @property
    def templates(self) -> list[Template]:
        """The templates kept now, in order of their ids."""
        return sorted(self._templates.values(), key=lambda t: t.id)

    def add(self, line: str) -> Template:
        """Mine one log line; returns the template it joined (or founded)."""
        tokens = tokenize(extract_message(line)) or [line.strip()]
        leaf = self._leaf(tokens)
        best: Template | None = None
        best_score = -1.0
        for cluster_id in leaf.clusters:
            candidate = self._templates[cluster_id]
            score = self._score(candidate.tokens, tokens)
            if score > best_score:
                best, best_score = candidate, score
        if best is None or best_score < self.similarity:
            best = self._new_template(tokens, leaf)
        else:
            best.tokens = [
                t if t == s else WILDCARD for t, s in zip(best.tokens, tokens, strict=True)
            ]
            self._templates.move_to_end(best.id)
        best.count += 1
        return best

    def _score(self, template: list[str], tokens: list[str]) -> float:
        # NB: masked values that agree (`<*>` == `<*>`) count, but less than words that agree:
        # `node <*> state normal` and `node <*> state warning` are different events.
        score = 0.0
        for t, s in zip(template, tokens, strict=True):
            if t == s:
                score += WILDCARD_WEIGHT if t == WILDCARD else 1.0
        return score / len(tokens)

    def _leaf(self, tokens: list[str]) -> _Node:
        node = self._root.children.setdefault(str(len(tokens)), _Node())
        for token in tokens[: self.depth - 1]:
            key = WILDCARD if WILDCARD in token else token
            child = node.children.get(key)
            if child is None:
                if len(node.children) >= self.max_children and key != WILDCARD:
                    key = WILDCARD
                child = node.children.setdefault(key, _Node())
            node = child
        return node

    def _new_template(self, tokens: list[str], leaf: _Node) -> Template:
        if len(self._templates) >= self.max_clusters:
            evicted, _ = self._templates.popitem(last=False)
            self._leaf_of.pop(evicted).clusters.remove(evicted)
        template = Template(id=self._next_id, tokens=list(tokens))
        self._next_id += 1
        self._templates[template.id] = template
        self._leaf_of[template.id] = leaf
        leaf.clusters.append(template.id)
        return template


@dataclass(frozen=True)
class TemplateGroup:
    """A template with the 1-based numbers of the lines it holds (for ``logs templates``)."""

    id: int
    template: str
    count: int
    lines: tuple[int, ...]


def group_lines(lines: Iterable[str], *, miner: TemplateMiner | None = None) -> list[TemplateGroup]:
    """Every non-empty line in exactly one group, by template id; most frequent first.

    The template text of a group is its template's latest (most general) form.
    """
    miner = miner or TemplateMiner()
    members: dict[int, list[int]] = {}
    texts: dict[int, str] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        template = miner.add(line)
        members.setdefault(template.id, []).append(number)
        texts[template.id] = template.text
    groups = [
        TemplateGroup(id=tid, template=texts[tid], count=len(numbers), lines=tuple(numbers))
        for tid, numbers in members.items()
    ]
    return sorted(groups, key=lambda g: (-g.count, g.id))
