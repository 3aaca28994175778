"""A corpus of planted secrets and benign lines, and a bundle that carries them everywhere.

Secrets: :data:`KINDS` are generators of one secret shape each (vendor tokens, URL and CLI
passwords, key=value forms in several syntaxes, escaped and split forms, ...); every kind is
planted several times with different random bodies, in turn in each of :data:`LOCATIONS`:
container logs, env values, container args, exec-probe commands, probe headers, Events,
annotations, ConfigMap data, alert annotations and labels, the Incident's description and
metric labels. Benign lines (:data:`BENIGN`) talk about secrets, tokens and keys, or look
random without being secret: digests, ``h1:`` hashes, UUIDs, trace IDs, token counts, error
phrases, REST paths with capitals. Everything is deterministic (a seeded generator).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import random
import string
from collections.abc import Callable
from typing import Any, Final

from kubemedic.models.bundle import Alert, ContainerLog, IncidentBundle, MetricResult
from kubemedic.models.incident import IncidentSpec
from support.llm_bundles import CRASH_SCENARIO, load_scenario

_ALNUM: Final = string.ascii_letters + string.digits
_HEX: Final = "0123456789abcdef"
_UPPER_NUM: Final = string.ascii_uppercase + string.digits


@dataclasses.dataclass(frozen=True)
class Planted:
    """One planted secret: its kind, the value that must not leak, and the line it is in."""

    kind: str
    secret: str
    line: str
    location: str = ""

    def needles(self) -> list[str]:
        """The secret and its distinctive substrings (12-character windows of its body)."""
        found = {self.secret}
        body = self.secret
        if len(body) >= 16:
            found.update(body[i : i + 12] for i in range(0, len(body) - 11, 4))
        return sorted(found)


def _rand(rng: random.Random, alphabet: str, length: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(length))


def _mixed(rng: random.Random, length: int) -> str:
    """Random alphanumerics with at least one upper, lower and digit."""
    while True:
        value = _rand(rng, _ALNUM, length)
        if all(any(test(c) for c in value) for test in (str.isupper, str.islower, str.isdigit)):
            return value


def _password(rng: random.Random) -> str:
    return _mixed(rng, 6) + rng.choice("!#%+-_") + _mixed(rng, 5)


Kind = Callable[[random.Random], tuple[str, str]]


def _kinds() -> dict[str, Kind]:
    """kind -> generator of (secret, line containing it)."""

    def aws_key_id(r: random.Random) -> tuple[str, str]:
        s = r.choice(["AKIA", "ASIA"]) + _rand(r, _UPPER_NUM, 16)
        return s, f"s3 client init with access key {s} region=eu-west-1"

    def aws_secret(r: random.Random) -> tuple[str, str]:
        s = _mixed(r, 20) + "/" + _mixed(r, 19)
        return s, f"aws_secret_access_key = {s}"

    def kv(key: str, value: Callable[[random.Random], str], fmt: str) -> Kind:
        def make(r: random.Random) -> tuple[str, str]:
            s = value(r)
            return s, fmt.format(key=key, s=s)

        return make

    def prefixed(prefix: str, alphabet: str, length: int, fmt: str) -> Kind:
        def make(r: random.Random) -> tuple[str, str]:
            s = prefix + (_mixed(r, length) if alphabet == _ALNUM else _rand(r, alphabet, length))
            return s, fmt.format(s=s)

        return make

    def jwt(r: random.Random) -> tuple[str, str]:
        s = "eyJhbGciOiJIUzI1NiJ9." + _mixed(r, 40) + "." + _mixed(r, 43)
        return s, f"request rejected, token {s} lacks scope"

    def pem(r: random.Random) -> tuple[str, str]:
        body = "\n".join(_mixed(r, 64) for _ in range(4))
        s = f"-----BEGIN RSA PRIVATE KEY-----\n{body}\n-----END RSA PRIVATE KEY-----"
        return body.splitlines()[1], f"loaded signing key:\n{s}"

    def url_pw(scheme: str, user: str) -> Kind:
        def make(r: random.Random) -> tuple[str, str]:
            s = _password(r).replace("#", "x")
            return s, f"connecting to {scheme}://{user}:{s}@db.shop.svc:5432/app"

        return make

    def s3_sig(r: random.Random) -> tuple[str, str]:
        s = _rand(r, _HEX, 64)
        return s, (
            "GET https://bucket.s3.amazonaws.com/obj?X-Amz-Algorithm=AWS4-HMAC-SHA256"
            f"&X-Amz-Date=20240101T000000Z&X-Amz-Signature={s} 403"
        )

    def s3_cred(r: random.Random) -> tuple[str, str]:
        s = "AKIA" + _rand(r, _UPPER_NUM, 16)
        return s, f"presign X-Amz-Credential={s}%2F20240101%2Fus-east-1%2Fs3%2Faws4_request"

    def json_in_json(r: random.Random) -> tuple[str, str]:
        s = _password(r)
        inner = json.dumps({"db_password": s, "host": "db"})
        return s, json.dumps({"level": "info", "msg": "config", "payload": inner})

    def unicode_escaped(r: random.Random) -> tuple[str, str]:
        s = _mixed(r, 14)
        return s, f'{{"msg":"env dump","line":"SECRET_KEY\\u003d{s}"}}'

    def yaml_block(r: random.Random) -> tuple[str, str]:
        s = _mixed(r, 24)
        return s, f"config:\n  db_password: |\n    {s}\n  pool: 5"

    def split_token(r: random.Random) -> tuple[str, str]:
        s = "ghp_" + _mixed(r, 36)
        return s, f"Authorization: token {s[:20]}\n{s[20:]}"

    def split_bearer(r: random.Random) -> tuple[str, str]:
        s = "glpat-" + _mixed(r, 30)
        return s, f"export GITLAB_TOKEN={s[:16]}\n{s[16:]}"

    def xml_pw(r: random.Random) -> tuple[str, str]:
        s = _password(r)
        return s, f"<datasource><user>app</user><password>{s}</password></datasource>"

    def xml_attr(r: random.Random) -> tuple[str, str]:
        s = _mixed(r, 18)
        return s, f'<add key="StorageApiKey" value="{s}" />'

    def ini(r: random.Random) -> tuple[str, str]:
        s = _password(r)
        return s, f"[client]\nuser = app\npassword = {s}"

    def netrc(r: random.Random) -> tuple[str, str]:
        s = _password(r)
        return s, f"machine api.example.com login deploy password {s}"

    def curl_u(r: random.Random) -> tuple[str, str]:
        s = _password(r)
        return s, f"+ curl -sf -u admin:{s} https://registry.internal/v2/"

    def mysql_p(r: random.Random) -> tuple[str, str]:
        s = _mixed(r, 12)
        return s, f"mysql -h db -u root -p{s} -e 'select 1'"

    def flag_pw(r: random.Random) -> tuple[str, str]:
        s = _password(r)
        return s, f"exec: /app/server --listen :8080 --db-password={s} --verbose"

    def flag_token(r: random.Random) -> tuple[str, str]:
        s = _mixed(r, 28)
        return s, f"vault login --token {s}"

    def auth_token(r: random.Random) -> tuple[str, str]:
        s = _rand(r, _HEX, 40)
        return s, f"GET /api/v2/orders Authorization: Token {s}"

    def auth_bearer(r: random.Random) -> tuple[str, str]:
        s = _mixed(r, 32)
        return s, f"curl -H 'Authorization: Bearer {s}' http://svc"

    def auth_basic(r: random.Random) -> tuple[str, str]:
        s = _mixed(r, 24) + "=="
        return s, f"proxy header Authorization: Basic {s}"

    def entropy_near(r: random.Random) -> tuple[str, str]:
        s = _mixed(r, 32)
        return s, f"loaded signing key {s} from vault"

    def quoted_json(r: random.Random) -> tuple[str, str]:
        s = _password(r)
        return s, f'{{"client_secret": "{s}", "client_id": "shop-web"}}'

    def connection_string(r: random.Random) -> tuple[str, str]:
        s = _password(r).replace(";", "x")
        return s, f"Server=tcp:sql.example.net,1433;User ID=app;Password={s};Encrypt=True"

    def telegram(r: random.Random) -> tuple[str, str]:
        s = str(r.randint(10**8, 10**9)) + ":AA" + _mixed(r, 33)
        return s, f"bot started with {s}"

    return {
        "aws-access-key-id": aws_key_id,
        "aws-secret-access-key": aws_secret,
        "github-ghp": prefixed("ghp_", _ALNUM, 36, "git push https://{s}@github.com/o/r"),
        "github-gho": prefixed("gho_", _ALNUM, 36, "oauth {s} refreshed"),
        "github-pat": prefixed("github_pat_", _ALNUM, 60, "GH_PAT {s}"),
        "gitlab-glpat": prefixed("glpat-", _ALNUM, 20, "using {s} for the API"),
        "gitlab-glrt": prefixed("glrt-", _ALNUM, 24, "runner registered with {s}"),
        "slack-token": prefixed("xoxb-", _UPPER_NUM, 30, "slack client {s} connected"),
        "slack-webhook": prefixed(
            "T0ABCDEF/B0ABCDEF/", _ALNUM, 24, "POST https://hooks.slack.com/services/{s} 200"
        ),
        "stripe-live": prefixed("sk_live_", _ALNUM, 24, "stripe key {s}"),
        "stripe-restricted": prefixed("rk_live_", _ALNUM, 24, "charging with {s}"),
        "stripe-webhook": prefixed("whsec_", _ALNUM, 32, "webhook signing {s}"),
        "sendgrid": prefixed("SG.", _ALNUM, 22, "mailer SG key {s}.abcdEFGH1234ijklMNOP5678qrst"),
        "mailgun": prefixed("key-", _HEX, 32, "mailgun using {s}"),
        "google-api-key": prefixed("AIza", _ALNUM, 35, "maps client {s}"),
        "google-oauth": prefixed("ya29.", _ALNUM, 40, "gcs upload with {s}"),
        "openai": prefixed("sk-proj-", _ALNUM, 40, "llm client key {s}"),
        "anthropic": prefixed("sk-ant-api03-", _ALNUM, 40, "claude client {s}"),
        "npm": prefixed("npm_", _ALNUM, 36, "//registry.npmjs.org/:_authToken={s}"),
        "pypi": prefixed("pypi-AgEIcHlwaS5vcmc", _ALNUM, 60, "twine upload -p {s}"),
        "docker-hub": prefixed("dckr_pat_", _ALNUM, 27, "docker login -p {s}"),
        "vault": prefixed("hvs.", _ALNUM, 24, "vault token {s}"),
        "huggingface": prefixed("hf_", _ALNUM, 34, "hub download {s}"),
        "shopify": prefixed("shpat_", _HEX, 32, "shop api {s}"),
        "digitalocean": prefixed("dop_v1_", _HEX, 64, "doctl {s}"),
        "jwt": jwt,
        "pem-private-key": pem,
        "url-password": url_pw("postgres", "app"),
        "url-empty-user": url_pw("redis", ""),
        "s3-signature": s3_sig,
        "s3-credential": s3_cred,
        "json-in-json": json_in_json,
        "unicode-escaped": unicode_escaped,
        "yaml-block": yaml_block,
        "split-token": split_token,
        "split-gitlab": split_bearer,
        "xml-element": xml_pw,
        "xml-attribute": xml_attr,
        "ini": ini,
        "netrc": netrc,
        "curl-u": curl_u,
        "mysql-p": mysql_p,
        "flag-password": flag_pw,
        "flag-token": flag_token,
        "authorization-token": auth_token,
        "authorization-bearer": auth_bearer,
        "authorization-basic": auth_basic,
        "entropy-near-keyword": entropy_near,
        "json-client-secret": quoted_json,
        "connection-string": connection_string,
        "telegram-bot": telegram,
        "env-db-pass": kv("DB_PASS", _password, "{key}={s}"),
        "env-secret-key-base": kv("SECRET_KEY_BASE", lambda r: _rand(r, _HEX, 64), "{key}={s}"),
        "api-key-colon": kv("api_key", lambda r: _mixed(r, 20), "{key}: {s}"),
    }


KINDS: Final = _kinds()
LOCATIONS: Final = (
    "log",
    "env",
    "args",
    "probe-exec",
    "probe-header",
    "event",
    "annotation",
    "configmap",
    "alert-annotation",
    "alert-label",
    "description",
    "metric-label",
)
#: Kinds whose line is several lines: only in places that keep line breaks.
_MULTILINE_OK: Final = frozenset(
    {"log", "env", "args", "probe-exec", "configmap", "description", "event", "annotation"}
)
PLANTS_PER_KIND: Final = 3


def planted(seed: int = 20261203) -> list[Planted]:
    """Every kind, :data:`PLANTS_PER_KIND` times, spread over the locations in turn."""
    rng = random.Random(seed)
    result: list[Planted] = []
    position = 0
    for kind, make in KINDS.items():
        for _ in range(PLANTS_PER_KIND):
            secret, line = make(rng)
            location = LOCATIONS[position % len(LOCATIONS)]
            position += 1
            if "\n" in line and location not in _MULTILINE_OK:
                location = "log"
            result.append(Planted(kind, secret, line, location))
    return result


BENIGN: Final = (
    'level=info msg="token is expired" user=alice',
    "error: api_key: missing",
    "llm usage prompt_tokens=1523 completion_tokens=211 total_tokens=1734",
    "max_tokens: 2048",
    'authentication failed: invalid password for user "app"',
    'password authentication failed for user "orders"',
    'MountVolume.SetUp failed for volume "creds" : secret "db-creds" not found',
    "couldn't find key password in Secret shop/db-credentials",
    'Error: secret "app-config" not found',
    'Warning  Failed  kubelet  Error: secretKeyRef "db-pass" not found',
    "GET /api/v1/namespaces/shop/pods/CheckoutService/Logs 200",
    "POST /api/v2/Users/12345/OrderHistory/Items 201 12ms",
    "GET /apis/apps/v1/namespaces/Payments/deployments/PaymentGateway 404",
    "github.com/prometheus/client_golang v1.19.0 h1:ygXvpU1AoN1MhdzckN+PyD9QJOSD4x7kmXYlnfbA6JU=",
    "golang.org/x/net v0.25.0 h1:d/OCCoBEUq33pjydKrGQhw7IlUPI2Oylr+8qLx49kac=",
    "golang.org/x/sys v0.20.0/go.mod h1:/VUhepiaJMQUp4+oa/7Zr1D23ma6VTLIYjOOTFZPUcA=",
    "image registry.example.com/web@sha256:" + "a3f1" * 16,
    "pulled docker.io/library/nginx@sha256:0d17b565c37bcbd895e9d92315a05c1c3c9a29f762b011a10c54a66cd53c9b31",
    "integrity sha512-Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZmdoaWprbG1ub3BxcnN0dXZ3eHl6QUJDREVGR0g=",
    "uid 19636706-d0af-5c65-8676-a2c8ca22367a restarted",
    "trace_id=4bf92f3577b34da6a3ce929d0e0e4736 span_id=00f067aa0ba902b7",
    "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    "request_id=7f3c9a2e-1b4d-4e8f-9a6b-2c1d0e9f8a7b status=200",
    "commit 9fceb02d0ae598e95dc970b74767f19372d61af8 deployed",
    "GET https://registry.example.com/v2/shop/web/manifests/1.4.2 404",
    "Back-off restarting failed container app in pod web-7d9f8c6b5d-x2x4k",
    "Container app was using 612Mi, request is 256Mi, has larger consumption of memory.",
    "readiness probe failed: HTTP probe failed with statuscode: 503",
    'Liveness probe failed: Get "http://10.244.1.7:8080/healthz": context deadline exceeded',
    "token refresh failed: token expired at 2024-05-01T10:00:00Z",
    "jwt: token has invalid claims: token is expired",
    "oauth2: cannot fetch token: 401 Unauthorized",
    "secret key not set, falling back to defaults",
    "password: required",
    "token: invalid or expired",
    "api_key: null",
    "password=***",
    "password=<redacted>",
    "DB_PASSWORD=${DB_PASSWORD}",
    "token=$(cat /var/run/secrets/token)",
    "token_file=/var/run/secrets/kubernetes.io/serviceaccount/token",
    "secretName: db-credentials",
    "tokenExpirationSeconds: 3600",
    "key: app.kubernetes.io/name",
    "cache key=user:42 hit ratio 0.93",
    "key not found in cache: session:abc",
    "using signing algorithm RS256 with key id kid-2024-05",
    "panic: runtime error: invalid memory address or nil pointer dereference",
    "goroutine 1 [running]:",
    "main.main()\n\t/app/main.go:42 +0x1d",
    "java.lang.OutOfMemoryError: Java heap space",
    "at com.example.shop.CheckoutController.placeOrder(CheckoutController.java:118)",
    "Caused by: java.net.ConnectException: Connection refused (Connection refused)",
    "Traceback (most recent call last):",
    'File "/app/server.py", line 88, in handle',
    "KeyError: 'DATABASE_URL'",
    "Error: Cannot find module 'express'",
    "npm ERR! code ELIFECYCLE",
    "FATAL: the database system is starting up",
    "LOG:  checkpoint complete: wrote 123 buffers (0.8%)",
    "redis: connection pool timeout",
    "dial tcp 10.96.0.12:5432: connect: connection refused",
    "connecting to postgres://db.shop.svc:5432/orders",
    "connecting to redis://redis-master.cache.svc:6379/0",
    "listening on http://0.0.0.0:8080",
    "Started ServerConnector@6d3af739{HTTP/1.1, (http/1.1)}{0.0.0.0:8080}",
    "INFO  [main] o.s.b.w.embedded.tomcat.TomcatWebServer : Tomcat started on port(s): 8080",
    "E0314 10:22:01.123456       1 reflector.go:138] failed to list *v1.Pod: Unauthorized",
    "I0314 10:22:01.123456       1 leaderelection.go:248] attempting to acquire leader lease",
    "W0314 10:22:01.123456       1 warnings.go:70] v1 ComponentStatus is deprecated",
    "0/3 nodes are available: 3 Insufficient memory.",
    'Failed to pull image "registry.example.com/web:1.4.3": not found',
    "Successfully assigned shop/web-1 to node-a",
    "Scaled up replica set web-7d9f8c6b5d to 3",
    "Created container app",
    "Started container app",
    "Killing container with id containerd://app",
    "OOMKilled: container exceeded its memory limit 512Mi",
    "exit code 137",
    "kubelet: Pod sandbox changed, it will be killed and re-created.",
    "node-a condition MemoryPressure=True",
    "HPA shop/web: current CPU utilization 93% above target 70%",
    "quota exceeded: requested: pods=1, used: pods=10, limited: pods=10",
    "certificate verify failed: unable to get local issuer certificate",
    "x509: certificate has expired or is not yet valid",
    "TLS handshake timeout",
    "upstream connect error or disconnect/reset before headers. reset reason: overflow",
    "GET /healthz 200 0.4ms",
    "GET /metrics 200 2.1ms",
    "POST /v1/chat/completions 200 prompt_tokens=812",
    "rate limited: 429 Too Many Requests, retry after 2s",
    "Session started for user bob",
    "session: created",
    "CSRF token mismatch",
    "invalid token signature",
    "the access key ID you provided does not exist in our records",
    "SignatureDoesNotMatch: The request signature we calculated does not match",
    "AccessDenied: User is not authorized to perform s3:GetObject",
    "reading config from /etc/app/config.yaml",
    "feature flag new-checkout=true",
    "build version=1.4.2 commit=9fceb02 date=2024-05-01",
    "ObjectId 507f1f77bcf86cd799439011 not found",
    "sha1 da39a3ee5e6b4b0d3255bfef95601890afd80709",
    "md5 d41d8cd98f00b204e9800998ecf8427e",
    'etag "33a64df551425fcc55e4d42a148795d9f25f89d4"',
    "k8s.io/client-go v0.30.0 h1:sB1AGGlhY/o7KCyCEQ0bPWzYDL0pwOZO4vAtTSh/gJQ=",
    "tokens used this minute: 48211 of 60000",
    "token bucket refilled: 100 tokens",
    "secret rotation scheduled for 2024-06-01",
    "password policy: at least 12 characters",
    "auth: ok",
)


def _event(n: int, message: str, target_pod: str, namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": f"corpus-{n}", "namespace": namespace},
        "involvedObject": {"kind": "Pod", "name": target_pod, "namespace": namespace},
        "reason": "CorpusEvent",
        "message": message,
        "type": "Warning",
        "lastTimestamp": f"2026-01-01T00:{n // 60:02d}:{n % 60:02d}Z",
    }


def corpus_bundle(
    plants: list[Planted], benign: tuple[str, ...] = BENIGN
) -> tuple[IncidentBundle, IncidentSpec]:
    """The crash-loop scenario with every planted secret in its location and the benign
    lines in a log; and the Incident spec carrying the description plants."""
    base = load_scenario(CRASH_SCENARIO)
    objects = copy.deepcopy(base.objects)
    namespace = base.target.namespace or "default"
    pods = [o for o in objects if o.get("kind") == "Pod"]
    pod = pods[0]
    container = pod["spec"]["containers"][0]
    env: list[dict[str, Any]] = container.setdefault("env", [])
    args: list[str] = container.setdefault("args", [])
    probe_exec: list[str] = []
    headers: list[dict[str, str]] = []
    annotations = pod["metadata"].setdefault("annotations", {})
    configmap: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "corpus-config", "namespace": namespace},
        "data": {},
    }
    log_lines: list[str] = []
    description: list[str] = []
    alert_labels: dict[str, str] = {"alertname": "KubePodCrashLooping", "namespace": namespace}
    alert_annotations: dict[str, str] = {}
    metric_series: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    for n, plant in enumerate(plants):
        match plant.location:
            case "log":
                log_lines.append(plant.line)
            case "env":
                env.append({"name": f"CORPUS_SETTING_{n}", "value": plant.line})
            case "args":
                args.append(plant.line)
            case "probe-exec":
                probe_exec.append(plant.line)
            case "probe-header":
                headers.append({"name": f"X-Corpus-{n}", "value": plant.line})
            case "event":
                events.append(_event(n, plant.line, pod["metadata"]["name"], namespace))
            case "annotation":
                annotations[f"corpus.example.com/note-{n}"] = plant.line
            case "configmap":
                configmap["data"][f"setting-{n}.conf"] = plant.line
            case "alert-annotation":
                alert_annotations[f"note_{n}"] = plant.line
            case "alert-label":
                alert_labels[f"corpus_{n}"] = plant.line
            case "description":
                description.append(plant.line)
            case "metric-label":
                metric_series.append(
                    {
                        "metric": {"pod": pod["metadata"]["name"], "label": plant.line},
                        "value": [1, "1"],
                    }
                )
    container["livenessProbe"] = {
        "exec": {"command": ["sh", "-c", "\n".join(probe_exec)]},
        "periodSeconds": 10,
    }
    container["readinessProbe"] = {
        "httpGet": {"path": "/ready", "port": 8080, "httpHeaders": headers},
    }
    objects.append(configmap)
    objects.extend(events)
    logs = [
        ContainerLog(
            namespace=namespace,
            pod=pod["metadata"]["name"],
            container=container["name"],
            previous=True,
            text="\n".join([*benign, *log_lines]) + "\n",
        ),
        *base.logs,
    ]
    bundle = base.model_copy(
        update={
            "objects": objects,
            "logs": logs,
            "alerts": [
                Alert(labels=alert_labels, annotations=alert_annotations),
            ],
            "metrics": [
                MetricResult(
                    query='kube_pod_container_status_restarts_total{namespace="shop"}',
                    data={"resultType": "vector", "result": metric_series},
                )
            ],
        }
    )
    spec = IncidentSpec.model_validate(
        {
            "target": base.target.model_dump(mode="json", by_alias=True, exclude_none=True),
            "summary": "checkout crash loop",
            "description": "\n".join(description),
        }
    )
    return bundle, spec


__all__ = [
    "BENIGN",
    "KINDS",
    "LOCATIONS",
    "PLANTS_PER_KIND",
    "Planted",
    "corpus_bundle",
    "planted",
]
