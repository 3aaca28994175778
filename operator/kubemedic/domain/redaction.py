"""Redaction: nothing secret-looking leaves the process in a prompt.

Everything kubemedic sends to a model server goes through a :class:`Redactor` first: the
evidence (objects, events, logs, alerts, metrics), the incident's own text, and the runbook
knowledge of the static prefix (ConfigMaps that people write by hand). Two layers:

- **Structured fields by allow-list** (:meth:`Redactor.redact_object`). Container env
  variables are sent by *name*; their values only when the name is allow-listed
  (``KUBEMEDIC_LLM_SEND_ENV_VALUES``, shell globs). A container's ``command`` and ``args``,
  exec-probe and lifecycle-hook commands and probe ``httpHeaders`` values are not sent
  unless the container is allow-listed (``KUBEMEDIC_LLM_SEND_COMMANDS``). A Secret's
  ``data``/``stringData`` values are never sent (its keys are: "key 'password' exists" is
  evidence), nor the ``kubectl.kubernetes.io/last-applied-configuration`` annotation, nor a
  string under a map key that names a secret. Everything else goes through the text layer.
- **Free text** (:meth:`Redactor.redact_text`, rules in :mod:`kubemedic.domain.secret_rules`):
  vendor token shapes, credential syntax and key words next to values. A line with JSON or
  unicode escapes (``\\u003d``, JSON inside JSON) is also checked with its escapes undone, and
  replaced by the redacted decoded form when that finds a secret; two lines that together
  form a token (a token wrapped at a fixed width) are checked joined. Values of env
  variables that come from a ``secretKeyRef`` are redacted wherever they are printed
  (:meth:`Redactor.for_bundle`), and extra patterns from the settings are applied.

A redacted value becomes ``[REDACTED:<kind>]``; the kind tells the model (and a human reading a
captured request) *what* was there. Redaction works on values inside parsed structures, never
on serialized JSON, so it cannot break the evidence document. It is idempotent and
deterministic, so the static prefix stays byte-identical.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import functools
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final

from kubemedic.domain.secret_rules import (
    BUILTIN_RULES,
    REDACTED,
    SECRET_NAME_RE,
    Rule,
    marker,
    plain_value,
)

LAST_APPLIED_ANNOTATION: Final = "kubectl.kubernetes.io/last-applied-configuration"
#: Env variables whose values are sent by default: they tune runtimes and are what an OOM or a
#: crash diagnosis turns on (the text layer still redacts secrets inside them).
DEFAULT_ENV_VALUE_ALLOWLIST: Final = (
    "LOG_LEVEL",
    "TZ",
    "PORT",
    "GOMAXPROCS",
    "GOMEMLIMIT",
    "GOGC",
    "JAVA_OPTS",
    "JAVA_TOOL_OPTIONS",
    "NODE_OPTIONS",
    "MALLOC_ARENA_MAX",
)
_CONTAINER_LISTS: Final = frozenset({"containers", "initContainers", "ephemeralContainers"})
_HOOK_KEYS: Final = frozenset(
    {"livenessProbe", "readinessProbe", "startupProbe", "postStart", "preStop"}
)
#: Escapes undone before a line is checked: \\uXXXX, \\xXX, \\", \\/, \\\\, \\n, \\t, \\r,
#: and the percent-encodings that hide key/value syntax.
_ESCAPE_RE: Final = re.compile(
    r"\\u[0-9a-fA-F]{4}|\\x[0-9a-fA-F]{2}|\\[\"/\\nrt']|%(?:3[dDaA]|40|2[fFbB0])"
)
_SIMPLE_ESCAPES: Final = {
    '\\"': '"',
    "\\/": "/",
    "\\\\": "\\",
    "\\n": "\n",
    "\\t": "\t",
    "\\r": "",
    "\\'": "'",
}
#: Two lines that may be one token wrapped at a fixed width: the first ends in a token-ish
#: run, the second is nothing but one.
_TOKEN_LINE_RE: Final = re.compile(r"[A-Za-z0-9+/=_-]{4,4096}")


def _unescape_once(text: str) -> str:
    def replace(match: re.Match[str]) -> str:
        found = match.group(0)
        if found.startswith(("\\u", "\\x")):
            return chr(int(found[2:], 16))
        if found.startswith("%"):
            return chr(int(found[1:], 16))
        return _SIMPLE_ESCAPES[found]

    return _ESCAPE_RE.sub(replace, text)


def unescape(text: str) -> str:
    """``text`` with JSON, unicode and URL escapes undone, up to three levels deep."""
    for _ in range(3):
        decoded = _unescape_once(text)
        if decoded == text:
            break
        text = decoded
    return text


def compile_extra_patterns(patterns: Iterable[str]) -> tuple[Rule, ...]:
    """Rules for user-given regular expressions (``KUBEMEDIC_LLM_REDACT_PATTERNS``).

    The whole match is redacted, or only a group named ``secret`` if the pattern has one
    (``token_for_(?P<secret>\\w+)`` keeps the prefix). Raises ``ValueError`` naming the
    pattern that does not compile.
    """
    rules: list[Rule] = []
    for index, pattern in enumerate(patterns):
        try:
            compiled = re.compile(pattern)
        except re.error as exc:
            msg = f"extra redaction pattern #{index} {pattern!r} is not a valid regular expression: {exc}"
            raise ValueError(msg) from None
        if compiled.search("") is not None and compiled.fullmatch("") is not None:
            msg = f"extra redaction pattern #{index} {pattern!r} must not match the empty string"
            raise ValueError(msg)
        rules.append(Rule("custom", compiled))
    return tuple(rules)


def env_value_rule(names: Iterable[str]) -> Rule | None:
    """A rule redacting ``NAME=value`` / ``NAME: value`` for env variables fed from Secrets."""
    unique = sorted({n for n in names if n and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.-]{0,127}", n)})
    if not unique:
        return None
    alternatives = "|".join(re.escape(n) for n in unique)
    return Rule(
        "secret-env",
        re.compile(
            rf"(?<![A-Za-z0-9_])[\"']?(?:{alternatives})[\"']?\s*[=:]\s*"
            r"(?P<secret>(?!\[REDACTED)(?:\"[^\"\n]{1,1024}\"|'[^'\n]{1,1024}'|[^\s,;&\"'<>]{1,1024}))"
        ),
        guards=tuple(n.lower() for n in unique),
    )


@dataclasses.dataclass(frozen=True)
class Redactor:
    """Redacts text and Kubernetes objects; build once, share (it is immutable)."""

    rules: tuple[Rule, ...] = BUILTIN_RULES
    #: Env variable names (shell globs) whose values are sent.
    env_values: tuple[str, ...] = DEFAULT_ENV_VALUE_ALLOWLIST
    #: Container names (shell globs) whose command, args, probe commands and headers are sent.
    command_containers: tuple[str, ...] = ()

    @classmethod
    def with_extra_patterns(
        cls,
        patterns: Sequence[str],
        *,
        env_values: Sequence[str] | None = None,
        command_containers: Sequence[str] = (),
    ) -> Redactor:
        """The built-in rules plus user patterns (see :func:`compile_extra_patterns`) and
        the allow-lists of structured fields."""
        return cls(
            rules=BUILTIN_RULES + compile_extra_patterns(patterns),
            env_values=DEFAULT_ENV_VALUE_ALLOWLIST if env_values is None else tuple(env_values),
            command_containers=tuple(command_containers),
        )

    def for_bundle(self, objects: Iterable[Mapping[str, Any]]) -> Redactor:
        """This redactor plus a rule for the env variables that the bundle's pods (and pod
        templates) take from a ``secretKeyRef``: their values must not appear in logs either."""
        rule = env_value_rule(secret_env_names(objects))
        return self if rule is None else dataclasses.replace(self, rules=(rule, *self.rules))

    def redact_text(self, text: str) -> str:
        """``text`` with every secret-looking part replaced by ``[REDACTED:<kind>]``."""
        if not text:
            return text
        if "\\" in text or "%" in text:
            text = self._redact_escaped_lines(text)
        text = self._scan(text)
        if "\n" in text:
            text = self._redact_split_tokens(text)
        return text

    def _scan(self, text: str) -> str:
        lowered = text.lower()
        guard, unguarded_min = self._prefilter
        if len(text) < unguarded_min and guard.search(lowered) is None:
            # NB: most strings of a Kubernetes object (names, labels, reasons) can match no
            # rule; one combined test of every guard skips them.
            return text
        for rule in self.rules:
            redacted = rule.apply(text, lowered)
            if redacted is not text and redacted != text:
                text, lowered = redacted, redacted.lower()
        return text

    def _redact_escaped_lines(self, text: str) -> str:
        """Lines whose decoded form hides a secret are replaced by that form, redacted."""
        lines = text.split("\n")
        changed = False
        for index, line in enumerate(lines):
            if ("\\" not in line and "%" not in line) or _ESCAPE_RE.search(line) is None:
                continue
            decoded = unescape(line)
            redacted = self._scan(decoded)
            if "\n" in redacted:
                redacted = self._redact_split_tokens(redacted)
            if redacted != decoded:
                lines[index] = redacted.replace("\n", "\\n")
                changed = True
        return "\n".join(lines) if changed else text

    def _redact_split_tokens(self, text: str) -> str:
        """A token wrapped over two lines: the last word of a line and the next line, when
        that is one token-ish run, are checked joined.

        NB: a walk over the lines, not a regular expression: one with a lazy line prefix
        is quadratic on a long line.
        """
        lines = text.split("\n")
        changed = False
        for index in range(len(lines) - 1):
            second = lines[index + 1].strip()
            if _TOKEN_LINE_RE.fullmatch(second) is None or not _random_tail(second):
                continue
            head, _, word = lines[index].rstrip().rpartition(" ")
            if not word:
                continue
            joined = word + second
            redacted = self._scan(joined)
            if redacted != joined:
                lines[index] = (head + " " if head else "") + redacted
                lines[index + 1] = ""
                changed = True
            elif word.endswith("]") and "[REDACTED:" in word and _random_tail(second):
                # NB: the first half was redacted already; its continuation goes too.
                lines[index + 1] = marker("token-continuation")
                changed = True
        if not changed:
            return text
        return "\n".join(lines)

    @functools.cached_property
    def _prefilter(self) -> tuple[re.Pattern[str], int]:
        """One pattern of every rule's guards, and the shortest text an unguarded rule (the
        high-entropy one, user patterns) could match in."""
        guards = sorted({g for rule in self.rules for g in rule.guards})
        unguarded = [rule.min_length for rule in self.rules if not rule.guards]
        pattern = re.compile("|".join(re.escape(g) for g in guards) or r"(?!)")
        return pattern, min(unguarded, default=1 << 30)

    def redact_object(self, obj: Any) -> Any:
        """A redacted deep copy of a Kubernetes object (or any JSON value); the input is kept."""
        return _Walk(self).value(obj, parent_key="", in_secret=_is_secret(obj))

    def env_value_allowed(self, name: str) -> bool:
        return any(fnmatch.fnmatchcase(name, pattern) for pattern in self.env_values)

    def commands_allowed(self, container: str) -> bool:
        return any(fnmatch.fnmatchcase(container, pattern) for pattern in self.command_containers)


def _random_tail(text: str) -> bool:
    """Looks like the rest of a token: long enough, two of upper case, lower case, digits."""
    classes = (str.isupper, str.islower, str.isdigit)
    return len(text) >= 8 and sum(any(test(c) for c in text) for test in classes) >= 2


def _is_secret(obj: Any) -> bool:
    return isinstance(obj, Mapping) and obj.get("kind") == "Secret"


@dataclasses.dataclass(frozen=True)
class _Walk:
    """One deep copy of a JSON value with the structural rules applied."""

    redactor: Redactor

    def text(self, value: str) -> str:
        return self.redactor.redact_text(value)

    def value(self, value: Any, *, parent_key: str, in_secret: bool) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            if parent_key in _CONTAINER_LISTS:
                return [self.container(item) for item in value]
            return [self.value(v, parent_key="", in_secret=False) for v in value]
        if not isinstance(value, Mapping):
            return value
        result: dict[str, Any] = {}
        for key, child in value.items():
            key_text = str(key)
            if in_secret and key_text in {"data", "stringData"} and isinstance(child, Mapping):
                result[key_text] = {str(k): marker("secret-data") for k in child}
            elif key_text == LAST_APPLIED_ANNOTATION and parent_key == "annotations":
                result[key_text] = marker("last-applied-configuration")
            elif _secret_scalar(key_text, child):
                result[key_text] = marker("secret")
            else:
                result[self.text(key_text)] = self.value(
                    child, parent_key=key_text, in_secret=False
                )
        return result

    def container(self, item: Any) -> Any:
        """A container by allow-list: env names, no values, commands or header values
        unless allowed."""
        if not isinstance(item, Mapping):
            return self.value(item, parent_key="", in_secret=False)
        name = str(item.get("name", ""))
        commands = self.redactor.commands_allowed(name)
        result: dict[str, Any] = {}
        for key, child in item.items():
            if key in {"command", "args"} and not commands:
                result[key] = marker(key)
            elif key == "env" and isinstance(child, list):
                result[key] = [self.env(e) for e in child]
            elif (key in _HOOK_KEYS or key == "lifecycle") and not commands:
                result[key] = self.hook(child)
            else:
                result[key] = self.value(child, parent_key=key, in_secret=False)
        return result

    def env(self, item: Any) -> Any:
        if not isinstance(item, Mapping):
            return self.value(item, parent_key="", in_secret=False)
        result = self.value(
            {k: v for k, v in item.items() if k != "value"}, parent_key="", in_secret=False
        )
        if "value" in item:
            allowed = self.redactor.env_value_allowed(str(item.get("name", "")))
            from_secret = isinstance(item.get("valueFrom"), Mapping)
            result["value"] = (
                self.value(item["value"], parent_key="", in_secret=False)
                if allowed and not from_secret
                else marker("env-value")
            )
        return result

    def hook(self, value: Any) -> Any:
        """Probes and lifecycle hooks: exec commands and header values are not sent."""
        if isinstance(value, list):
            return [self.hook(v) for v in value]
        if not isinstance(value, Mapping):
            return self.value(value, parent_key="", in_secret=False)
        result: dict[str, Any] = {}
        for key, child in value.items():
            if key == "command":
                result[key] = marker("command")
            elif key == "httpHeaders" and isinstance(child, list):
                result[key] = [
                    {"name": self.text(str(h.get("name", ""))), "value": marker("header")}
                    if isinstance(h, Mapping)
                    else marker("header")
                    for h in child
                ]
            else:
                result[key] = self.hook(child)
        return result


def _secret_scalar(key: str, child: Any) -> bool:
    """A string or number under a key that names a secret (``apiKey: abc``), unless the
    value is plainly not one (``tokens: 512`` is a count, ``password: required`` a state)."""
    if isinstance(child, bool) or not isinstance(child, str | int | float):
        return False
    if SECRET_NAME_RE.match(key) is None:
        return False
    value = str(child)
    if plain_value(value):
        return False
    return not (value.isdigit() and key.lower().endswith("tokens"))


def secret_env_names(objects: Iterable[Mapping[str, Any]]) -> set[str]:
    """Names of env variables set from a ``secretKeyRef`` in any pod or pod template."""
    names: set[str] = set()
    for obj in objects:
        for spec in _pod_specs(obj):
            for key in _CONTAINER_LISTS:
                containers = spec.get(key)
                for container in containers if isinstance(containers, list) else []:
                    env = container.get("env") if isinstance(container, Mapping) else None
                    for item in env if isinstance(env, list) else []:
                        if (
                            isinstance(item, Mapping)
                            and isinstance(item.get("valueFrom"), Mapping)
                            and "secretKeyRef" in item["valueFrom"]
                            and isinstance(item.get("name"), str)
                        ):
                            names.add(item["name"])
    return names


def _pod_specs(obj: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    spec = obj.get("spec")
    if not isinstance(spec, Mapping):
        return []
    template = spec.get("template")
    if isinstance(template, Mapping) and isinstance(template.get("spec"), Mapping):
        return [template["spec"]]
    job_template = spec.get("jobTemplate")
    if isinstance(job_template, Mapping):
        inner = job_template.get("spec")
        if isinstance(inner, Mapping):
            return _pod_specs({"spec": inner})
    return [spec] if "containers" in spec else []


def redact_strings(value: Any, redact: Callable[[str], str]) -> Any:
    """Every string of a JSON value (keys included) through ``redact``; structure kept."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, list):
        return [redact_strings(v, redact) for v in value]
    if isinstance(value, Mapping):
        return {redact(str(k)): redact_strings(v, redact) for k, v in value.items()}
    return value


__all__ = [
    "DEFAULT_ENV_VALUE_ALLOWLIST",
    "LAST_APPLIED_ANNOTATION",
    "REDACTED",
    "SECRET_NAME_RE",
    "Redactor",
    "Rule",
    "compile_extra_patterns",
    "env_value_rule",
    "redact_strings",
    "secret_env_names",
    "unescape",
]
