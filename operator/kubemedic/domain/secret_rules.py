"""The free-text secret detector: the rules :class:`~kubemedic.domain.redaction.Redactor` runs.

Every string sent to a model server goes through these rules. They are of four sorts:

- **Shapes that are secrets by themselves**: PEM private keys (also cut off at either end by
  log truncation), JWTs, and vendor tokens with a recognisable prefix (AWS ``AKIA``/``ASIA``,
  GitHub ``ghp_``/``github_pat_``, GitLab ``glpat-``/``glrt-``, Slack ``xox?-`` and webhook
  URLs, Stripe ``sk_live_``/``rk_``/``whsec_``, SendGrid ``SG.``, Mailgun ``key-``, Google
  ``AIza``/``ya29.``, OpenAI/Anthropic ``sk-``, npm, PyPI, Docker Hub, Vault, Shopify, ...),
  S3 pre-signed URL parameters and Azure keys.
- **Syntax that says "a credential follows"**: passwords in URLs (also with an empty user,
  ``redis://:pw@host``), ``Authorization: Bearer|Basic|Token ...``, CLI flags (``curl -u
  user:pw``, ``mysql -ppw``, ``--password=..``), XML elements and ``key=... value=...``
  attributes, YAML ``password: |`` blocks, ``.netrc`` lines.
- **Key words next to a value**: ``key=value``, ``key: value``, ``"key": "value"`` where the
  key ends in a secret word (password, secret, token, api key, credential, ...): the value is
  redacted unless it is plainly not a secret (a benign word such as ``missing`` or
  ``expired``, a placeholder, a path, a count after a plural ``tokens`` key). Weak key words
  (``key``, ``auth``, ``signature``) redact only high-entropy values.
- **High-entropy runs** of base64 characters mixing upper case, lower case and digits, except
  digests (``sha256:``, ``h1:``, ``sha512-``), hex, UUIDs and REST paths.

Rules never nest unbounded quantifiers and expensive ones are guarded by a cheap substring
test, so a 64 KiB line of base64 cannot make a regular expression backtrack for seconds.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections import Counter
from collections.abc import Callable
from typing import Final

REDACTED: Final = "[REDACTED:{kind}]"


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


#: Values after a secret key word that are plainly not secrets: error phrases and states.
BENIGN_VALUES: Final = frozenset(
    (
        "",
        *_words(
            "missing required invalid expired empty unset set none null nil true false "
            "yes no ok present absent redacted hidden masked undefined unknown not is was "
            "error failed wrong incorrect mismatch denied rejected revoked valid found "
            "notfound default bearer basic n/a na secret password token from for via in"
        ),
    )
)
_PLACEHOLDER_RE: Final = re.compile(
    r"^(?:\*+|x{3,}|\.{3}|<[^>]*>|\$\{[^}]*\}|\$\([^)]*\)|\$[A-Za-z_][A-Za-z0-9_]*|"
    r"\{\{.*\}\}|%[sdv]|\[REDACTED[^\]]*\]?|/[^\s]*|\./[^\s]*|~/[^\s]*)$"
)
_UUID_RE: Final = re.compile(r"[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")
_STATE_WORD_RE: Final = re.compile(r"^[a-z]{2,14}(?:ed|ing)$")


def marker(kind: str) -> str:
    return REDACTED.format(kind=kind)


def entropy(value: str) -> float:
    """Shannon entropy in bits per character."""
    if not value:
        return 0.0
    counts = Counter(value)
    total = len(value)
    return -sum(n / total * math.log2(n / total) for n in counts.values())


def _strip_quotes(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def plain_value(value: str) -> bool:
    """True when a value after a secret key word is plainly not a secret."""
    text = _strip_quotes(value).strip()
    lowered = text.lower().rstrip(".,;:!")
    return (
        lowered in BENIGN_VALUES
        or _PLACEHOLDER_RE.match(text) is not None
        or _STATE_WORD_RE.match(lowered) is not None
    )


def high_entropy(value: str, *, min_length: int = 16, min_entropy: float = 3.0) -> bool:
    """A value that looks random: long enough, letters and digits mixed, high entropy."""
    text = _strip_quotes(value)
    if len(text) < min_length or plain_value(text) or _UUID_RE.fullmatch(text):
        return False
    has_digit = any(c.isdigit() for c in text)
    has_alpha = any(c.isalpha() for c in text)
    # NB: a path or a route (``GET:/api/v1/Products/42``) is not random, whatever its case.
    if "/" in text and all(len(part) <= 16 for part in re.split(r"[/:]", text)):
        return False
    return has_digit and has_alpha and entropy(text) >= min_entropy


@dataclasses.dataclass(frozen=True)
class Rule:
    """One textual rule: a pattern, a cheap guard, and what to replace a match with.

    The whole match is replaced by the marker, or only the group named ``secret`` if the
    pattern has one (the text around it is kept). ``accept`` may veto a match by its secret
    part (a benign word after ``password:``); ``replacer`` replaces the pattern where a
    regular expression cannot do it in linear time.
    """

    kind: str
    pattern: re.Pattern[str]
    #: Lower-case substrings of which at least one must be in the (lower-cased) text.
    guards: tuple[str, ...] = ()
    #: Shortest text the pattern can match in (a cheap first test).
    min_length: int = 0
    accept: Callable[[re.Match[str]], bool] | None = None
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
        mark = marker(self.kind)
        if self.replacer is not None:
            return self.replacer(text, mark)
        accept = self.accept

        def replace(match: re.Match[str]) -> str:
            if accept is not None and not accept(match):
                return match.group(0)
            if "secret" in match.re.groupindex and match.group("secret") is not None:
                start, end = match.span("secret")
                offset = match.start()
                whole = match.group(0)
                return whole[: start - offset] + mark + whole[end - offset :]
            return mark

        return self.pattern.sub(replace, text)


# -- key words ------------------------------------------------------------------------------

#: Key names whose value is secret: they *end* in one of these words (optionally followed by
#: a qualifier such as ``_base`` or ``_b64``), so ``DB_PASSWORD``, ``clientSecret``,
#: ``x-api-key``, ``SECRET_KEY_BASE`` and ``authToken`` match while ``secretName``,
#: ``secretKeyRef`` and ``tokenExpirationSeconds`` (evidence) do not.
KEY_WORD: Final = (
    r"(?:password|passwd|passphrase|pass|pwd|pw|secret|token|api[_-]?key|apikey|"
    r"(?:access|secret|private|encryption|signing|master|license|auth|account|client|hmac|"
    r"session|shared|storage|app|consumer|subscription|ssh|gpg|pgp|jwt|webhook|deploy|root|"
    r"service[_-]?account|write|read|admin|bot)[_-]?key(?:[_-]?id)?|"
    r"client[_-]?secret|credentials?|creds|session[_-]?id|sessionid|sid|cookie|"
    r"dsn|conn(?:ection)?[_-]?str(?:ing)?|connectionstring|pin)s?"
    r"(?:[_-]?(?:base|value|b64|base64|hash|data|string|str|text|plain))?"
)
#: Weak key words: only a high-entropy value next to them is redacted.
WEAK_KEY_WORD: Final = r"(?:key|auth|signature|sig|salt|nonce|otp|code)"
_KEY_CHARS: Final = r"[A-Za-z0-9_.-]"
#: A map key or variable name that names a secret (``DB_PASSWORD``, ``auth/token``).
SECRET_NAME_RE: Final = re.compile(rf"(?i)^[A-Za-z0-9_./-]{{0,253}}?{KEY_WORD}$")
#: A value in ``key=value``: quoted, or up to a separator; never a '[' (already redacted)
#: or '{' (a nested object, not a value).
_VALUE: Final = (
    r"(?:\"(?:[^\"\\\n]|\\.){1,1024}\"|'[^'\n]{1,1024}'|\$\{[^}\n]{1,256}\}|\$\([^)\n]{1,256}\)|"
    r"(?![\[{\s])[^\s,;&\"'<>(){}\[\]]{1,1024})"
)
_STRONG_LOOSE_RE: Final = re.compile(r"(?i)(?:password|passwd|pwd|secret|passphrase)$")
_COUNT_KEY_RE: Final = re.compile(r"(?i)tokens$|(?:max|min|num|count|len|limit)")


def _kv_accept(key: str, value: str) -> bool:
    plain = _strip_quotes(value)
    if plain_value(plain):
        return False
    # NB: ``prompt_tokens=1523``, ``max_tokens: 2048``: counts, not credentials; ``token:
    # 401``: a status code.
    return not plain.isdigit() or (len(plain) > 3 and _COUNT_KEY_RE.search(key) is None)


def _weak_accept(key: str, value: str) -> bool:
    plain = _strip_quotes(value)
    if _STRONG_LOOSE_RE.search(key) and len(plain) >= 6 and not plain_value(plain):
        # ``password is Hunter2x``: a strong key word; any value with letters and digits.
        return any(c.isdigit() for c in plain) and any(c.isalpha() for c in plain)
    return high_entropy(value, min_length=12, min_entropy=3.0)


def _loose_accept(match: re.Match[str]) -> bool:
    return high_entropy(match.group("secret"), min_length=12, min_entropy=2.8)


def _authorization_accept(match: re.Match[str]) -> bool:
    """After a scheme anything but a plain word; without one (``authorization: server
    message``), only what looks like a credential."""
    value = match.group("secret")
    if plain_value(value):
        return False
    if match.group("scheme"):
        return True
    return len(value) >= 8 and (
        any(c.isdigit() for c in value) or any(c in "=+/._-" for c in value) or not value.islower()
    )


def _match_accept(match: re.Match[str]) -> bool:
    return _kv_accept(match.group("key"), match.group("secret"))


_VALUE_RE: Final = re.compile(_VALUE)
_KEY_CHAR_SET: Final = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-"
)


_SEP_RE: Final = re.compile(r"[\"']?[ \t]*(?:=>|:=|=|:)[ \t]*(?![\[{\s])")
_LOOSE_RE: Final = re.compile(r"[\"']?[ \t]+(?:is[ \t]+|of[ \t]+)?(?![\[{\s])")
_KEY_RUN_RE: Final = re.compile(r"[A-Za-z0-9_.-]{0,64}")
_BLOCK_INDICATORS: Final = frozenset({"|", ">", "|-", ">-", "|+", ">+"})
_KEY_END_RE: Final = re.compile(rf"(?i)(?:{KEY_WORD})$")
_WEAK_KEY_END_RE: Final = re.compile(rf"(?i)(?:{WEAK_KEY_WORD}|{KEY_WORD})$")
_LOOSE_KEY_RE: Final = re.compile(
    r"(?i)(?:token|secret|password|passwd|pwd|key|apikey|api-key|credential|auth)s?$"
)


def _key_value_replacer(
    key_end: re.Pattern[str],
    accept: Callable[[str, str], bool],
    *,
    guards: tuple[str, ...],
    loose: bool = False,
) -> Callable[[str, str], str]:
    """Redacts the value after each key that ends in a key word (``key_end``).

    NB: the guard words are found with ``str.find``, the key around each found by walking
    over key characters, and the separator matched after it; a pattern for "any key ending
    in a key word" would retry a lazy prefix at every position of a long log. ``loose``
    also takes whitespace as the separator.
    """
    separators = (_SEP_RE, _LOOSE_RE) if loose else (_SEP_RE,)

    def replace(text: str, mark: str) -> str:
        lowered = text.lower()
        ends: set[int] = set()
        for guard in guards:
            at = lowered.find(guard)
            while at >= 0:
                run = _KEY_RUN_RE.match(text, at)
                ends.add(run.end() if run else at)
                at = lowered.find(guard, at + 1)
        out: list[str] = []
        last = 0
        for end in sorted(ends):
            if end < last:
                continue
            start = end
            while start > 0 and text[start - 1] in _KEY_CHAR_SET and end - start < 64:
                start -= 1
            if start == end or (start > 0 and text[start - 1] in _KEY_CHAR_SET):
                continue
            key = text[start:end]
            for index, separator in enumerate(separators):
                sep = separator.match(text, end)
                if sep is None or (_LOOSE_KEY_RE if index else key_end).search(key) is None:
                    continue
                value = _VALUE_RE.match(text, sep.end())
                if value is not None and (
                    value.group(0) in _BLOCK_INDICATORS or value.group(0).startswith("!!")
                ):
                    # NB: a YAML block scalar whose line breaks were lost (``password: | x``),
                    # or a YAML tag (``password: !!binary x``): the value comes next.
                    after = value.end()
                    while after < len(text) and text[after] in " \t":
                        after += 1
                    value = _VALUE_RE.match(text, after) if after > value.end() else None
                if value is not None and accept(key, value.group(0)):
                    out += [text[last : value.start()], mark]
                    last = value.end()
                    break
        if not out:
            return text
        out.append(text[last:])
        return "".join(out)

    return replace


# -- high entropy ---------------------------------------------------------------------------

_HASH_PREFIX_RE: Final = re.compile(
    r"(?i)(?:h1:|sha\d{1,3}[:-]|md5[:-]|sha\d{1,3}=|digest[:=]|@sha\d{1,3}:)$"
)
_HASH_RUN_RE: Final = re.compile(r"(?i)(?:sha\d{1,3}|md5)-")
_RUN_RE: Final = re.compile(
    r"(?<![A-Za-z0-9+/=_-])[A-Za-z0-9+/_-]{32,4096}={0,2}(?![A-Za-z0-9+/=_-])"
)


def _entropic(run: str, before: str) -> bool:
    if _HASH_PREFIX_RE.search(before[-10:]) or _HASH_RUN_RE.match(run):
        return False
    core = run.rstrip("=")
    if not (
        any(c.isupper() for c in core)
        and any(c.islower() for c in core)
        and any(c.isdigit() for c in core)
    ):
        return False
    # NB: REST paths and resource names with capitals: mostly short segments between
    # separators, whatever their case.
    if before.endswith(("/", "://")) or core.startswith("/"):
        return False
    segments = [s for s in re.split(r"[/_-]", core) if s]
    if len(segments) >= 3 and max(len(s) for s in segments) <= 20:
        return False
    longest = max(segments, key=len, default="")
    return len(longest) >= 20 and entropy(longest) >= 3.6


def _redact_entropy(text: str, mark: str) -> str:
    out: list[str] = []
    last = 0
    for match in _RUN_RE.finditer(text):
        if _entropic(match.group(0), text[max(0, match.start() - 10) : match.start()]):
            out += [text[last : match.start()], mark]
            last = match.end()
    if not out:
        return text
    out.append(text[last:])
    return "".join(out)


# -- PEM keys whose BEGIN was cut off -------------------------------------------------------

_HEADLESS_END_RE: Final = re.compile(r"-----END [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----")
_BASE64_CHARS: Final = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
)
_MAX_KEY_LINES: Final = 400
_MAX_KEY_LINE: Final = 128


def _redact_headless_keys(text: str, mark: str) -> str:
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
        out += [text[last:pos], mark]
        last = match.end()
    out.append(text[last:])
    return "".join(out)


# -- YAML block scalars ---------------------------------------------------------------------

_YAML_BLOCK_RE: Final = re.compile(
    rf"(?im)^([ \t]*[\"']?{_KEY_CHARS}{{0,64}}?{KEY_WORD}[\"']?[ \t]*:[ \t]*[|>][-+0-9]?[ \t]*)$"
)


def _redact_yaml_blocks(text: str, mark: str) -> str:
    """``password: |`` followed by more-indented lines: the lines are the secret."""
    out: list[str] = []
    last = 0
    for match in _YAML_BLOCK_RE.finditer(text):
        if match.start() < last:
            continue
        indent = len(match.group(1)) - len(match.group(1).lstrip())
        pos = match.end()
        end = pos
        while end < len(text) and text[end] == "\n":
            line_end = text.find("\n", end + 1)
            line_end = len(text) if line_end < 0 else line_end
            line = text[end + 1 : line_end]
            if line.strip() and len(line) - len(line.lstrip()) <= indent:
                break
            end = line_end
        if end > pos:
            out += [text[last:pos], " ", mark]
            last = end
    if not out:
        return text
    out.append(text[last:])
    return "".join(out)


# -- the rules ------------------------------------------------------------------------------

_VENDOR_TOKENS: Final = (
    r"gh[pousr]_[A-Za-z0-9]{30,255}|github_pat_[A-Za-z0-9_]{22,255}|"
    r"gl(?:pat|rt|dt|ptt|soat|cbt|imt|ffct|oas|agent)-[A-Za-z0-9_-]{20,255}|"
    r"GR1348941[A-Za-z0-9_-]{20,64}|"
    r"xox[abposre]-[A-Za-z0-9-]{10,255}|xapp-\d-[A-Za-z0-9-]{10,255}|"
    r"[sr]k_(?:live|test)_[A-Za-z0-9]{10,255}|whsec_[A-Za-z0-9+/=]{16,255}|"
    r"SG\.[A-Za-z0-9_-]{16,64}\.[A-Za-z0-9_-]{16,128}|key-[0-9a-zA-Z]{32}|"
    r"sk-(?:proj-|ant-(?:api\d\d-|admin\d\d-)?|svcacct-|admin-)?[A-Za-z0-9_-]{20,255}|"
    r"npm_[A-Za-z0-9]{36}|pypi-AgE[A-Za-z0-9_-]{50,512}|dckr_pat_[A-Za-z0-9_-]{20,128}|"
    r"hv[sbr]\.[A-Za-z0-9_-]{20,512}|shp(?:at|ss|ca|pa)_[a-fA-F0-9]{32}|"
    r"do[por]_v1_[a-f0-9]{64}|NRAK-[A-Z0-9]{27}|dapi[a-f0-9]{32}|ATATT3[A-Za-z0-9_=-]{20,255}|"
    r"PMAK-[a-f0-9]{24}-[a-f0-9]{34}|hf_[A-Za-z0-9]{30,64}|glc_[A-Za-z0-9+/=_-]{32,255}|"
    r"glsa_[A-Za-z0-9]{32}_[a-f0-9]{8}|lin_(?:api|oauth)_[A-Za-z0-9]{40}|"
    r"dp\.(?:pt|st|sa|ct|scim|audit)\.[A-Za-z0-9]{40,64}|pul-[a-f0-9]{40}|"
    r"AGE-SECRET-KEY-1[0-9A-Z]{58}|sq0(?:atp|csp)-[A-Za-z0-9_-]{22,43}|"
    r"ya29\.[0-9A-Za-z_-]{20,4096}|AIza[0-9A-Za-z_-]{35}|rubygems_[a-f0-9]{48}|"
    r"sntrys_[A-Za-z0-9+/=_-]{40,255}|figd_[A-Za-z0-9_-]{40,64}|EAA[A-Za-z0-9]{90,255}"
)
_VENDOR_GUARDS: Final = _words(
    "ghp_ gho_ ghu_ ghs_ ghr_ github_pat_ glpat- glrt- gldt- glptt- glsoat- "
    "glcbt- glimt- glffct- gloas- glagent- gr1348941 xox xapp- k_live_ k_test_ "
    "whsec_ sg. key- sk- npm_ pypi- dckr_pat_ hvs. hvb. hvr. shpat_ shpss_ shpca_ "
    "shppa_ _v1_ nrak- dapi atatt3 pmak- hf_ glc_ glsa_ lin_ dp. pul- "
    "age-secret-key- sq0 ya29. aiza rubygems_ sntrys_ figd_ eaa"
)

#: Substrings of every key word (the guards of the key=value rules).
_KV_GUARDS: Final = _words("pass pw secret token key cred session sid cookie dsn conn pin")
_WEAK_GUARDS: Final = (*_KV_GUARDS, *_words("auth sig salt nonce otp code"))

BUILTIN_RULES: Final[tuple[Rule, ...]] = (
    # PEM private keys: whole blocks; then a BEGIN whose END was cut off; then an END whose
    # BEGIN was cut off (a log window starting mid-key). Line breaks may be escaped ('\n').
    Rule(
        "private-key",
        re.compile(
            r"-----BEGIN ([A-Z0-9 ]{0,40})PRIVATE KEY(?: BLOCK)?-----[\s\S]{0,16384}?"
            r"-----END \1PRIVATE KEY(?: BLOCK)?-----"
        ),
        guards=("private key",),
    ),
    Rule(
        "private-key",
        re.compile(
            r"-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----"
            r"(?:(?:\s|\\[nr])+[A-Za-z0-9+/=:,-]{1,128}){0,400}"
        ),
        guards=("private key",),
    ),
    Rule(
        "private-key",
        _HEADLESS_END_RE,
        guards=("private key",),
        replacer=_redact_headless_keys,
    ),
    Rule(
        "yaml-block",
        _YAML_BLOCK_RE,
        guards=(": |", ": >", ":|", ":>"),
        replacer=_redact_yaml_blocks,
    ),
    Rule(
        "jwt",
        re.compile(r"\beyJ[A-Za-z0-9_-]{5,4096}\.[A-Za-z0-9_-]{5,8192}\.?[A-Za-z0-9_-]{0,4096}"),
        guards=("eyj",),
    ),
    # Passwords in URLs, also with an empty user (redis://:pw@host); a long hex user name
    # alone is a key too (Sentry DSNs).
    Rule(
        "password",
        re.compile(
            r"\b[a-zA-Z][a-zA-Z0-9+.-]{0,20}://[^\s:/@'\"<>\[\]]{0,256}:"
            r"(?P<secret>(?!\[REDACTED)[^\s@/'\"<>]{1,256})@"
        ),
        guards=("://",),
    ),
    Rule(
        "url-key",
        re.compile(r"\bhttps?://(?P<secret>[0-9a-f]{24,64})@"),
        guards=("://",),
    ),
    Rule(
        "webhook-url",
        re.compile(
            r"\bhttps://(?:hooks\.slack\.com/(?:services|workflows|triggers)|"
            r"(?:discord|discordapp)\.com/api/webhooks|[a-z0-9-]+\.webhook\.office\.com/webhookb2)"
            r"/(?P<secret>[A-Za-z0-9_/@-]{10,512})"
        ),
        guards=("hooks.slack.com", "/api/webhooks", "webhook.office.com"),
    ),
    Rule(
        "authorization",
        re.compile(
            r"(?i)\b(?:proxy-)?authorization[\"']?\s*[:=]\s*[\"']?"
            r"(?P<scheme>(?:bearer|basic|token|digest|negotiate|apikey|api-key|key|sso-key|"
            r"ssws|bot|otp|hmac|aws4-hmac-sha256|splunk|genieKey)\s+)?"
            r"(?P<secret>(?!\[REDACTED)[^\s\"',;]{4,4096})"
        ),
        guards=("authorization",),
        accept=_authorization_accept,
    ),
    Rule(
        "token",
        re.compile(r"(?i)\b(?:bearer|basic|token)\s+(?P<secret>[A-Za-z0-9._~+/=-]{8,4096})"),
        guards=("bearer", "basic", "token"),
        accept=_loose_accept,
    ),
    Rule(
        "aws-access-key",
        re.compile(r"\b(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|AROA|APKA)[A-Z0-9]{16}\b"),
        guards=("akia", "asia", "abia", "acca", "agpa", "aida", "aipa", "anpa", "anva", "aroa"),
    ),
    Rule(
        "api-token",
        re.compile(rf"(?<![A-Za-z0-9_-])(?:{_VENDOR_TOKENS})(?![A-Za-z0-9_])"),
        guards=_VENDOR_GUARDS,
    ),
    Rule(
        "telegram-token",
        re.compile(r"\b\d{8,10}:AA[A-Za-z0-9_-]{33}\b"),
        guards=(":aa",),
    ),
    # Signed URLs: S3 pre-signed and Azure SAS parameters, Azure connection strings.
    Rule(
        "signed-url",
        re.compile(
            r"(?i)\b(?:X-Amz-(?:Signature|Credential|Security-Token)|X-Goog-(?:Signature|Credential)|"
            r"Signature|AccountKey|SharedAccessKey|SharedAccessSignature|sig)="
            r"(?P<secret>(?!\[REDACTED)[^;&\s\"'<>]{8,4096})"
        ),
        guards=("x-amz-", "x-goog-", "signature=", "accountkey", "sharedaccess", "sig="),
    ),
    # CLI flags: curl -u user:pw, mysql -ppw, sshpass -p pw, redis-cli -a pw, --password=..
    Rule(
        "cli-password",
        re.compile(
            r"(?:(?<=\s)|^)(?:-u|--user|--proxy-user)[ =]+[\"']?[^\s:\"']{1,128}:"
            r"(?P<secret>(?!\[REDACTED)[^\s\"']{1,256})"
        ),
        guards=("-u", "--user", "--proxy-user"),
    ),
    Rule(
        "cli-password",
        re.compile(
            r"\b(?:mysql|mysqldump|mysqladmin|mariadb|mariadb-dump|sshpass|redis-cli|"
            r"mongo|mongosh|mongodump|login|twine)\b[^\n|;&]{0,200}?\s-[pa](?:\s+)?"
            r"(?P<secret>(?!\[REDACTED)[^\s\"'-][^\s\"']{0,255})"
        ),
        guards=("mysql", "mariadb", "sshpass", "redis-cli", "mongo", "login", "twine"),
    ),
    Rule(
        "cli-password",
        re.compile(
            rf"(?i)(?:(?<=\s)|^|(?<=[\"']))--?(?P<key>{_KEY_CHARS}{{0,40}}?{KEY_WORD})(?:=|\s+)"
            rf"(?P<secret>(?![-\[]){_VALUE})"
        ),
        guards=("-",),
        accept=_match_accept,
    ),
    Rule(
        "netrc",
        re.compile(r"(?i)\blogin\s+\S{1,128}\s+password\s+(?P<secret>\S{1,256})"),
        guards=("login",),
    ),
    # XML: <password>..</password>, <add key="DbPassword" value=".."/>
    Rule(
        "xml-secret",
        re.compile(
            rf"(?i)<(?P<key>{_KEY_CHARS}{{0,64}}?{KEY_WORD})(?:\s[^>]{{0,256}})?>"
            r"(?P<secret>(?!\[REDACTED)[^<]{1,4096})</"
        ),
        guards=("<",),
        accept=_match_accept,
    ),
    Rule(
        "xml-secret",
        re.compile(
            rf"(?i)\b(?:key|name)\s*=\s*[\"'](?P<key>{_KEY_CHARS}{{0,64}}?{KEY_WORD})[\"']\s+"
            r"value\s*=\s*[\"'](?P<secret>(?!\[REDACTED)[^\"']{1,1024})[\"']"
        ),
        guards=("value",),
        accept=_match_accept,
    ),
    # key=value, key: value, "key": "value" with a secret key word.
    Rule(
        "secret",
        _KEY_END_RE,
        guards=_KV_GUARDS,
        replacer=_key_value_replacer(_KEY_END_RE, _kv_accept, guards=_KV_GUARDS),
    ),
    # Weak key words and loose forms ("token 8f9A...", "key: Zm9v..."): high entropy only.
    Rule(
        "secret",
        _WEAK_KEY_END_RE,
        guards=_WEAK_GUARDS,
        replacer=_key_value_replacer(
            _WEAK_KEY_END_RE, _weak_accept, guards=_WEAK_GUARDS, loose=True
        ),
    ),
    Rule("high-entropy", _RUN_RE, min_length=32, replacer=_redact_entropy),
)

__all__ = [
    "BENIGN_VALUES",
    "BUILTIN_RULES",
    "KEY_WORD",
    "REDACTED",
    "SECRET_NAME_RE",
    "Rule",
    "entropy",
    "high_entropy",
    "marker",
    "plain_value",
]
