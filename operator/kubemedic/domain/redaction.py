"""Redaction: nothing secret-looking leaves the process in a prompt.

Everything kubemedic sends to a model server goes through a :class:`Redactor` first: the
evidence (objects, events, logs, alerts, metrics), the incident's own text, *and* the static
prefix (runbook knowledge comes from ConfigMaps that people write by hand). Two layers:

- **Structural**, for Kubernetes objects (:meth:`Redactor.redact_object`): the values of a
  Secret's ``data``/``stringData`` (keys are kept: "key 'password' exists" is evidence, its
  value never is), env values of containers whose variable comes from a ``secretKeyRef`` or
  whose name says it is secret, any string under a map key that ends in ``password``,
  ``token``, ``secret``, ``apiKey``, ... and the ``kubectl.kubernetes.io/last-applied-configuration``
  annotation (``kubectl apply`` of a Secret copies its data there).
- **Textual**, for every string (:meth:`Redactor.redact_text`): private keys (PEM, also cut off
  at either end by log truncation), JWTs, ``Bearer``/``Basic`` credentials, GitHub, Slack,
  Stripe, GitLab and npm tokens, AWS access key IDs,
  GCP API keys and OAuth tokens, Azure storage keys and SAS signatures, passwords in URLs,
  ``key=value`` / ``key: value`` / ``"key": "value"`` pairs whose key names a secret, values of
  env variables that come from a ``secretKeyRef`` wherever they are printed
  (:meth:`Redactor.for_bundle`), long high-entropy base64 strings, and extra patterns from
  the operator's settings.

A redacted value becomes ``[REDACTED:<kind>]``; the kind tells the model (and a human reading a
captured request) *what* was there. Redaction is idempotent and deterministic, so the
static prefix stays byte-identical. It errs towards redacting: a lost hex blob costs less than
a leaked credential.

NB: expensive patterns are guarded by a cheap substring test, and no pattern nests unbounded
quantifiers, so a 64 KiB log line of base64 cannot make a regular expression backtrack for
seconds.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final

REDACTED: Final = "[REDACTED:{kind}]"
LAST_APPLIED_ANNOTATION: Final = "kubectl.kubernetes.io/last-applied-configuration"

#: Map keys / variable names whose value is secret: they *end* in one of these words, so
#: ``DB_PASSWORD``, ``clientSecret``, ``x-api-key`` and ``authToken`` match while
#: ``secretName``, ``secretKeyRef`` and ``tokenExpirationSeconds`` (evidence) do not.
_KEY_NAME_SUFFIX: Final = (
    r"(?:password|passwd|passphrase|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|"
    r"secret[_-]?key|private[_-]?key|private[_-]?key[_-]?id|client[_-]?secret|credentials?|"
    r"auth[_-]?key|account[_-]?key|session[_-]?id|cookie)s?"
)
SECRET_NAME_RE: Final = re.compile(rf"(?i)^[A-Za-z0-9_./-]{{0,253}}{_KEY_NAME_SUFFIX}$")


@dataclasses.dataclass(frozen=True)
class Rule:
    """One textual rule: a pattern, a cheap guard, and what to replace a match with."""

    kind: str
    pattern: re.Pattern[str]
    #: Lower-case substrings of which at least one must be in the (lower-cased) text.
    guards: tuple[str, ...] = ()
    #: Groups to keep around the redacted part: (prefix group, suffix group), 0 for none.
    keep_prefix: int = 0
    keep_suffix: int = 0
    #: Shortest text the pattern can match in (a cheap first test).
    min_length: int = 0
    #: Replaces the pattern where a regular expression cannot do it in linear time.
    replacer: Callable[[str, str], str] | None = None
    _guard: re.Pattern[str] | None = dataclasses.field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.guards:
            guard = re.compile("|".join(re.escape(g) for g in self.guards))
            object.__setattr__(self, "_guard", guard)

    def may_match(self, text: str, lowered: str) -> bool:
        if len(text) < self.min_length:
            return False
        return self._guard is None or self._guard.search(lowered) is not None

    def apply(self, text: str, lowered: str) -> str:
        if not self.may_match(text, lowered):
            return text
        marker = REDACTED.format(kind=self.kind)
        if self.replacer is not None:
            return self.replacer(text, marker)

        def replace(match: re.Match[str]) -> str:
            if "secret" in match.re.groupindex:
                start, end = match.span("secret")
                whole_start = match.start()
                return (
                    match.group(0)[: start - whole_start]
                    + marker
                    + match.group(0)[end - whole_start :]
                )
            prefix = match.group(self.keep_prefix) if self.keep_prefix else ""
            suffix = match.group(self.keep_suffix) if self.keep_suffix else ""
            return f"{prefix}{marker}{suffix}"

        return self.pattern.sub(replace, text)


_B64: Final = r"[A-Za-z0-9+/=]"
#: A value in ``key=value``: quoted, or up to a separator; never a '[' (already redacted)
#: or '{' (a nested object, not a value).
_VALUE: Final = r"(?:\"(?:[^\"\\\n]|\\.){1,512}\"|'[^'\n]{1,512}'|(?![\[{\s])[^\s,;&\"'<>]{1,512})"

BUILTIN_RULES: Final[tuple[Rule, ...]] = (
    # PEM private keys: whole blocks; then a BEGIN whose END was cut off; then an END whose
    # BEGIN was cut off (a log window starting mid-key). Line breaks may be escaped ('\n').
    Rule(
        "private-key",
        re.compile(
            r"-----BEGIN ([A-Z0-9 ]{0,40})PRIVATE KEY(?: BLOCK)?-----[\s\S]{0,16384}?"
            r"-----END \1PRIVATE KEY(?: BLOCK)?-----"
        ),
        guards=("private key-----",),
    ),
    Rule(
        "private-key",
        re.compile(
            r"-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----"
            r"(?:(?:\s|\\[nr])+[A-Za-z0-9+/=:,-]{1,128}){0,400}"
        ),
        guards=("private key-----",),
    ),
    Rule(
        "private-key",
        re.compile(r"-----END [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----"),
        guards=("private key-----",),
        # NB: a lambda, as the function is defined further down.
        replacer=lambda text, marker: _redact_headless_keys(text, marker),  # noqa: PLW0108
    ),
    Rule(
        "jwt",
        re.compile(r"\beyJ[A-Za-z0-9_-]{5,4096}\.[A-Za-z0-9_-]{5,8192}\.[A-Za-z0-9_-]{0,4096}"),
        guards=("eyj",),
    ),
    Rule(
        "password",
        re.compile(
            r"\b([a-zA-Z][a-zA-Z0-9+.-]{0,20}://[^\s:/@'\"<>\[\]]{1,256}:)"
            r"(?!\[REDACTED)[^\s@/'\"<>]{1,256}(@)"
        ),
        guards=("://",),
        keep_prefix=1,
        keep_suffix=2,
    ),
    Rule(
        "token",
        re.compile(r"(?i)\b(bearer\s+|basic\s+)[A-Za-z0-9._~+/=-]{6,4096}"),
        guards=("bearer", "basic"),
        keep_prefix=1,
    ),
    Rule(
        "aws-access-key",
        re.compile(r"\b(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|AROA|APKA)[A-Z0-9]{16}\b"),
        guards=("akia", "asia", "abia", "acca", "agpa", "aida", "aipa", "anpa", "anva", "aroa"),
    ),
    # Vendor tokens with a recognisable prefix: GitHub, Slack, Stripe, GitLab, npm.
    Rule(
        "api-token",
        re.compile(
            r"\b(?:gh[pousr]_[A-Za-z0-9]{30,255}|github_pat_[A-Za-z0-9_]{22,255}|"
            r"xox[abposr]-[A-Za-z0-9-]{10,255}|[sr]k_(?:live|test)_[A-Za-z0-9]{10,255}|"
            r"glpat-[A-Za-z0-9_-]{20,255}|npm_[A-Za-z0-9]{36})"
        ),
        guards=("gh", "github_pat_", "xox", "k_live_", "k_test_", "glpat-", "npm_"),
    ),
    Rule("gcp-api-key", re.compile(r"\bAIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])"), guards=("aiza",)),
    Rule("gcp-token", re.compile(r"\bya29\.[0-9A-Za-z_-]{20,4096}"), guards=("ya29.",)),
    Rule(
        "azure-key",
        re.compile(
            r"(?i)\b((?:AccountKey|SharedAccessKey|SharedAccessSignature|sig)=)[^;&\s\"'<>]{8,1024}"
        ),
        guards=("accountkey", "sharedaccess", "sig="),
        keep_prefix=1,
    ),
    Rule(
        "secret",
        re.compile(
            rf"(?i)(?<![A-Za-z0-9_.-])([\"']?[A-Za-z0-9_.-]{{0,64}}{_KEY_NAME_SUFFIX}[\"']?"
            rf"\s*[=:]\s*){_VALUE}"
        ),
        guards=(
            "pass",
            "pwd",
            "secret",
            "token",
            "key",
            "credential",
            "session",
            "cookie",
        ),
        keep_prefix=1,
    ),
    # Long base64 runs mixing upper case, lower case and digits: cloud secret keys, API
    # tokens, encoded credentials. Hex digests (lower case only) and UIDs (hyphens) survive.
    Rule(
        "high-entropy",
        re.compile(
            r"(?<![A-Za-z0-9+/=_-])(?=[A-Za-z0-9+/]{0,200}[A-Z])(?=[A-Za-z0-9+/]{0,200}[a-z])"
            r"(?=[A-Za-z0-9+/]{0,200}[0-9])[A-Za-z0-9+/]{40,4096}={0,2}(?![A-Za-z0-9+/=_-])"
        ),
        min_length=40,
    ),
)


_HEADLESS_END_RE: Final = re.compile(r"-----END [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----")
_BASE64_CHARS: Final = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
)
_MAX_KEY_LINES: Final = 400
_MAX_KEY_LINE: Final = 128


def _redact_headless_keys(text: str, marker: str) -> str:
    """A private key whose BEGIN line was cut off (a log window starting mid-key): from each
    END line, walk back over base64 lines (raw or ``\\n``-escaped line breaks).

    NB: a regular expression for "base64 lines followed by END" retries from every start
    position and is quadratic on a long base64 text without an END; this walk is linear.
    """
    out: list[str] = []
    last = 0
    for match in _HEADLESS_END_RE.finditer(text):
        pos = match.start()
        for _ in range(_MAX_KEY_LINES):
            sep = pos
            while sep > last:
                if text[sep - 1].isspace():
                    sep -= 1
                elif sep - 2 >= last and text[sep - 2 : sep] in ("\\n", "\\r"):
                    sep -= 2
                else:
                    break
            run = sep
            while run > last and sep - run < _MAX_KEY_LINE and text[run - 1] in _BASE64_CHARS:
                if run - 2 >= last and text[run - 2 : run] in ("\\n", "\\r"):
                    break  # the 'n' of an escaped line break, not base64
                run -= 1
            if sep - run < 8 or (sep == pos and pos != match.start()):
                break
            pos = run
        out += [text[last:pos], marker]
        last = match.end()
    out.append(text[last:])
    return "".join(out)


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
        re.compile(rf"(?<![A-Za-z0-9_])([\"']?(?:{alternatives})[\"']?\s*[=:]\s*){_VALUE}"),
        guards=tuple(n.lower() for n in unique),
        keep_prefix=1,
    )


@dataclasses.dataclass(frozen=True)
class Redactor:
    """Redacts text and Kubernetes objects; build once, share (it is immutable)."""

    rules: tuple[Rule, ...] = BUILTIN_RULES

    @classmethod
    def with_extra_patterns(cls, patterns: Sequence[str]) -> Redactor:
        """The built-in rules plus user patterns (see :func:`compile_extra_patterns`)."""
        return cls(rules=BUILTIN_RULES + compile_extra_patterns(patterns))

    def for_bundle(self, objects: Iterable[Mapping[str, Any]]) -> Redactor:
        """This redactor plus a rule for the env variables that the bundle's pods (and pod
        templates) take from a ``secretKeyRef``: their values must not appear in logs either."""
        rule = env_value_rule(secret_env_names(objects))
        return self if rule is None else dataclasses.replace(self, rules=(rule, *self.rules))

    def redact_text(self, text: str) -> str:
        """``text`` with every secret-looking part replaced by ``[REDACTED:<kind>]``."""
        if not text:
            return text
        lowered = text.lower()
        guard, unguarded_min = self._prefilter
        if len(text) < unguarded_min and guard.search(lowered) is None:
            # NB: most strings of a Kubernetes object (names, labels, reasons) can match no
            # rule; one combined test of every guard skips them.
            return text
        for rule in self.rules:
            redacted = rule.apply(text, lowered)
            if redacted is not text:
                text, lowered = redacted, redacted.lower()
        return text

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
        return _redact_value(obj, self.redact_text, parent_key="", in_secret=_is_secret(obj))


def _is_secret(obj: Any) -> bool:
    return isinstance(obj, Mapping) and obj.get("kind") == "Secret"


def _marker(kind: str) -> str:
    return REDACTED.format(kind=kind)


def _redact_value(
    value: Any, redact: Callable[[str], str], *, parent_key: str, in_secret: bool
) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, list):
        if parent_key == "env":
            return [_redact_env(item, redact) for item in value]
        return [_redact_value(v, redact, parent_key="", in_secret=False) for v in value]
    if not isinstance(value, Mapping):
        return value
    result: dict[str, Any] = {}
    for key, child in value.items():
        key_text = str(key)
        if in_secret and key_text in {"data", "stringData"} and isinstance(child, Mapping):
            result[key_text] = {str(k): _marker("secret-data") for k in child}
        elif key_text == LAST_APPLIED_ANNOTATION and parent_key == "annotations":
            result[key_text] = _marker("last-applied-configuration")
        elif (
            isinstance(child, str | int | float)
            and not isinstance(child, bool)
            and (SECRET_NAME_RE.match(key_text))
        ):
            result[key_text] = _marker("secret")
        else:
            result[redact(key_text)] = _redact_value(
                child, redact, parent_key=key_text, in_secret=False
            )
    return result


def _redact_env(item: Any, redact: Callable[[str], str]) -> Any:
    """One container env entry: a literal ``value`` is dropped when the variable comes from
    a Secret or its name says it is secret."""
    if not isinstance(item, Mapping):
        return _redact_value(item, redact, parent_key="", in_secret=False)
    from_secret = isinstance(item.get("valueFrom"), Mapping) and "secretKeyRef" in item["valueFrom"]
    secret_name = SECRET_NAME_RE.match(str(item.get("name", ""))) is not None
    result = _redact_value(dict(item), redact, parent_key="", in_secret=False)
    if (from_secret or secret_name) and "value" in result:
        result["value"] = _marker("secret-env" if from_secret else "secret")
    return result


def secret_env_names(objects: Iterable[Mapping[str, Any]]) -> set[str]:
    """Names of env variables set from a ``secretKeyRef`` in any pod or pod template."""
    names: set[str] = set()
    for obj in objects:
        for spec in _pod_specs(obj):
            for key in ("containers", "initContainers", "ephemeralContainers"):
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


__all__ = [
    "LAST_APPLIED_ANNOTATION",
    "REDACTED",
    "SECRET_NAME_RE",
    "Redactor",
    "Rule",
    "compile_extra_patterns",
    "env_value_rule",
    "secret_env_names",
]
