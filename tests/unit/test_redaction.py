"""We test these aspects of redaction (kubemedic.domain.redaction), which runs on everything
sent to a model server:

- every kind of planted secret in free text (logs, events, annotations) is replaced, one
  table row per kind, and the text around it survives;
- evidence that merely *talks* about secrets (a missing Secret's name, ``secretKeyRef``,
  digests, UIDs, URLs without passwords) is kept, so diagnoses do not lose their facts;
- Kubernetes objects: Secret data, env values fed from a ``secretKeyRef`` or with a secret
  name, secret-named map keys and the last-applied-configuration annotation; the input is
  not changed;
- values of env variables fed from Secrets are redacted wherever a bundle's logs print them;
- containers by allow-list: env values only for allow-listed names, no command, args,
  exec-probe or hook commands and no probe header values unless the container is allowed;
- escaped forms (JSON inside JSON, ``\\u003d``) and tokens split over two lines;
- extra patterns from the settings (whole match or a ``secret`` group; bad ones refused);
- redaction is idempotent and does not backtrack for long on adversarial input.
"""

from __future__ import annotations

import copy
import time

import pytest

from kubemedic.domain.redaction import Redactor, compile_extra_patterns, secret_env_names

PEM_BODY = "\n".join(
    ["MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj"] * 6
    + ["MgVjKqHnT2fS0gE0u3x8Q2mR6yM0V1kL2wQ=="]
)
RSA_KEY = f"-----BEGIN RSA PRIVATE KEY-----\n{PEM_BODY}\n-----END RSA PRIVATE KEY-----"
JWT = (
    "eyJhbGciOiJSUzI1NiIsImtpZCI6IjEyMyJ9.eyJpc3MiOiJrdWJlcm5ldGVzL3NlcnZpY2VhY2NvdW50Iiwic3Vi"
    "Ijoic3lzdGVtOnNlcnZpY2VhY2NvdW50OnNob3A6d2ViIn0.c2lnbmF0dXJlLXRoYXQtaXMtbG9uZy1lbm91Z2g"
)

#: (kind, text with the secret, the secret itself, context that must survive)
PLANTED = [
    (
        "bearer",
        "GET /api Authorization: Bearer abc123DEF456ghi789 ok",
        "abc123DEF456ghi789",
        "GET /api",
    ),
    (
        "basic",
        "curl -H 'Authorization: Basic dXNlcjpodW50ZXIy' http://x",
        "dXNlcjpodW50ZXIy",
        "curl -H",
    ),
    ("jwt", f"token rejected: {JWT} expired", JWT[40:90], "expired"),
    ("pem", f"loaded key\n{RSA_KEY}\nstarting", PEM_BODY.splitlines()[0], "starting"),
    (
        "pem-escaped-json",
        '{"private_key": "-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\\n'
        '-----END PRIVATE KEY-----\\n", "client_email": "sa@p.iam.gserviceaccount.com"}',
        "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC",
        "client_email",
    ),
    (
        "pem-cut-at-start",
        f"{PEM_BODY}\n-----END PRIVATE KEY-----\nserver listening on :8443",
        PEM_BODY.splitlines()[2],
        "server listening",
    ),
    (
        "pem-cut-at-start-escaped",
        '{"key": "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC\\nQUJDREVGR0hJSktMTU5PUFFS\\n'
        '-----END PRIVATE KEY-----\\n", "user": "bob"}',
        "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC",
        '"user": "bob"',
    ),
    (
        "pem-cut-at-end",
        f"boot ok\n-----BEGIN EC PRIVATE KEY-----\n{PEM_BODY}",
        PEM_BODY.splitlines()[-1],
        "boot ok",
    ),
    ("aws-access-key", "using key AKIAIOSFODNN7EXAMPLE for s3", "AKIAIOSFODNN7EXAMPLE", "for s3"),
    (
        "github-token",
        "git clone https://ghp_16C7e42F292c6912E7710c838347Ae178B4a@github.com/o/r failed",
        "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
        "github.com/o/r failed",
    ),
    (
        "slack-token",
        "posting with xoxb-1234-5678-abcdefghijkl",
        "xoxb-1234-5678-abcdefghijkl",
        "posting",
    ),
    (
        "aws-secret-key",
        "aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY region=eu",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "region=eu",
    ),
    (
        "gcp-api-key",
        "maps key AIzaSyA1b2C3d4E5f6G7h8I9j0KlMnOpQrStUvW loaded",
        "AIzaSyA1b2C3d4E5f6G7h8I9j0KlMnOpQrStUvW",
        "loaded",
    ),
    (
        "gcp-oauth",
        "refreshing ya29.a0AfH6SMBx3kLmNoPqRsTuVwXyZ0123456789 done",
        "ya29.a0AfH6SMBx3kLmNoPqRsTuVwXyZ0123456789",
        "done",
    ),
    (
        "azure-storage",
        "DefaultEndpointsProtocol=https;AccountName=shop;AccountKey=Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA==;"
        "EndpointSuffix=core.windows.net",
        "Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA==",
        "AccountName=shop",
    ),
    (
        "azure-sas",
        "GET https://shop.blob.core.windows.net/c/f?sv=2022-11-02&sig=AbCdEf123456%2BxyzXYZ%3D&se=1",
        "AbCdEf123456%2BxyzXYZ%3D",
        "sv=2022-11-02",
    ),
    (
        "url-password",
        "dial postgres://app:s3cr3t-Pa55@db.shop.svc:5432/orders failed",
        "s3cr3t-Pa55",
        "db.shop.svc:5432/orders failed",
    ),
    (
        "key=value",
        "starting with DB_PASSWORD=hunter2 and LOG_LEVEL=info",
        "hunter2",
        "LOG_LEVEL=info",
    ),
    (
        "key: value",
        "config: {api_key: sk-live-4242XYZ, retries: 3}",
        "sk-live-4242XYZ",
        "retries: 3",
    ),
    (
        "json",
        '{"level":"info","client_secret":"very-secret-value","user":"bob"}',
        "very-secret-value",
        '"user":"bob"',
    ),
    ("quoted", "token='tok_0123456789abcdef' accepted", "tok_0123456789abcdef", "accepted"),
    (
        "high-entropy",
        "cache warmed with 9fK2mQ7xL0pR4sT8vW1yZ3bN6cH5jD0gA2eU7iO9 entries",
        "9fK2mQ7xL0pR4sT8vW1yZ3bN6cH5jD0gA2eU7iO9",
        "entries",
    ),
]

KEPT = [
    'MountVolume.SetUp failed for volume "creds" : secret "db-creds" not found',
    "couldn't find key password in Secret shop/db-credentials",
    'Error: secret "app-config" not found',
    "image registry.example.com/web@sha256:" + "a3f1" * 16,
    "uid 19636706-d0af-5c65-8676-a2c8ca22367a restarted",
    "GET https://registry.example.com/v2/shop/web/manifests/1.4.2 404",
    "Back-off restarting failed container app in pod web-7d9f8c6b5d-x2x4k",
    "Container app was using 612Mi, request is 256Mi, has larger consumption of memory.",
    "readiness probe failed: HTTP probe failed with statuscode: 503",
]


@pytest.mark.parametrize(
    ("kind", "text", "secret", "context"), PLANTED, ids=[p[0] for p in PLANTED]
)
def test_planted_secrets_are_redacted(kind: str, text: str, secret: str, context: str) -> None:
    redacted = Redactor().redact_text(text)
    assert secret not in redacted
    assert "[REDACTED:" in redacted
    assert context in redacted


@pytest.mark.parametrize("text", KEPT)
def test_evidence_about_secrets_is_kept(text: str) -> None:
    assert Redactor().redact_text(text) == text


@pytest.mark.parametrize(
    ("kind", "text", "secret", "context"), PLANTED, ids=[p[0] for p in PLANTED]
)
def test_redaction_is_idempotent(kind: str, text: str, secret: str, context: str) -> None:
    redactor = Redactor()
    once = redactor.redact_text(text)
    assert redactor.redact_text(once) == once


SECRET_OBJECT = {
    "apiVersion": "v1",
    "kind": "Secret",
    "metadata": {
        "name": "db-credentials",
        "namespace": "shop",
        "annotations": {
            "kubectl.kubernetes.io/last-applied-configuration": '{"data":{"password":"aHVudGVyMg=="}}'
        },
    },
    "type": "Opaque",
    "data": {"password": "aHVudGVyMg==", "username": "YXBw"},
    "stringData": {"token": "plain-token-value"},
}
POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "web-1", "namespace": "shop", "annotations": {"note": "password=letmein"}},
    "spec": {
        "containers": [
            {
                "name": "app",
                "env": [
                    {
                        "name": "PAYMENT_PROVIDER_CONFIG",
                        "value": "leaked-resolved-value",
                        "valueFrom": {"secretKeyRef": {"name": "payments", "key": "config"}},
                    },
                    {"name": "DB_PASSWORD", "value": "hunter2"},
                    {"name": "LOG_LEVEL", "value": "debug"},
                    {"name": "REDIS_URL", "value": "redis://:pw0rd@cache:6379"},
                ],
                "args": ["--db-dsn", "mysql://root:toor@db/app"],
                "command": ["/app/server", "-p", "Str0ngPass"],
                "livenessProbe": {
                    "exec": {"command": ["sh", "-c", "PGPASSWORD=pg1234 pg_isready"]},
                },
                "readinessProbe": {
                    "httpGet": {
                        "path": "/ready",
                        "port": 8080,
                        "httpHeaders": [{"name": "X-Api-Token", "value": "hdr-5ecret"}],
                    }
                },
                "secretRef": {"name": "keep-me"},
            }
        ],
        "volumes": [{"name": "creds", "secret": {"secretName": "db-credentials"}}],
    },
    "status": {"apiKey": "abc-123-secret"},
}


@pytest.mark.parametrize(
    ("obj", "secrets", "kept"),
    [
        (
            SECRET_OBJECT,
            ["aHVudGVyMg==", "YXBw", "plain-token-value"],
            ["db-credentials", "password", "username", "Opaque"],
        ),
        (
            POD,
            [
                "leaked-resolved-value",
                "hunter2",
                "letmein",
                "abc-123-secret",
                "pw0rd",
                "toor",
                "Str0ngPass",
                "pg1234",
                "hdr-5ecret",
            ],
            [
                "PAYMENT_PROVIDER_CONFIG",
                "DB_PASSWORD",
                "REDIS_URL",
                "debug",
                "db-credentials",
                "keep-me",
                "X-Api-Token",
                "/ready",
            ],
        ),
    ],
    ids=["secret", "pod"],
)
def test_objects_are_redacted_structurally(
    obj: dict[str, object], secrets: list[str], kept: list[str]
) -> None:
    original = copy.deepcopy(obj)
    redacted = Redactor().redact_object(obj)
    text = repr(redacted)
    for secret in secrets:
        assert secret not in text
    for word in kept:
        assert word in text
    assert obj == original


def test_secret_env_values_are_redacted_in_logs() -> None:
    log = "loaded PAYMENT_PROVIDER_CONFIG=acct_9f8e7d and LOG_LEVEL=debug"
    assert secret_env_names([POD]) == {"PAYMENT_PROVIDER_CONFIG"}
    # The name says nothing secret: only the bundle's secretKeyRef makes it a secret.
    assert "acct_9f8e7d" in Redactor().redact_text(log)
    redacted = Redactor().for_bundle([POD]).redact_text(log)
    assert "acct_9f8e7d" not in redacted
    assert "LOG_LEVEL=debug" in redacted


def test_secret_env_names_come_from_pod_templates_too() -> None:
    deployment = {"kind": "Deployment", "spec": {"template": {"spec": POD["spec"]}}}
    assert secret_env_names([deployment]) == {"PAYMENT_PROVIDER_CONFIG"}


@pytest.mark.parametrize(
    ("patterns", "text", "gone", "kept"),
    [
        (["ACME-[0-9]{6}"], "ticket ACME-123456 opened", "ACME-123456", "ticket"),
        (
            [r"session=(?P<secret>[a-f0-9]{8})"],
            "cookie session=deadbeef set",
            "deadbeef",
            "session=",
        ),
    ],
)
def test_extra_patterns(patterns: list[str], text: str, gone: str, kept: str) -> None:
    redacted = Redactor.with_extra_patterns(patterns).redact_text(text)
    assert gone not in redacted
    assert kept in redacted


@pytest.mark.parametrize(
    ("pattern", "message"),
    [("([unclosed", "not a valid regular expression"), ("x*", "must not match the empty string")],
)
def test_bad_extra_patterns_are_refused(pattern: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as info:
        compile_extra_patterns([pattern])
    assert repr(pattern) in str(info.value)


@pytest.mark.parametrize(
    "text",
    [
        "A" * 50_000 + "\n" + "-----END PRIVATE KEY-----" + "b" * 100,
        ("Qm9vdA== " * 20_000) + "-----END PRIVATE KEY-----",
        "-----BEGIN PRIVATE KEY-----\n" + ("x" * 64 + "\n") * 5000,
        "password=" + "=" * 100_000,
        "aB3" * 100_000,
    ],
    ids=["headless-end", "many-chunks", "unterminated", "many-equals", "one-long-run"],
)
def test_adversarial_input_redacts_quickly(text: str) -> None:
    started = time.perf_counter()
    Redactor().redact_text(text)
    assert time.perf_counter() - started < 2.0


def test_allow_listed_containers_and_env_names_are_sent() -> None:
    redactor = Redactor.with_extra_patterns(
        [], env_values=["LOG_*", "REDIS_URL"], command_containers=["app"]
    )
    container = redactor.redact_object(POD)["spec"]["containers"][0]
    values = {e["name"]: e["value"] for e in container["env"]}
    assert values["LOG_LEVEL"] == "debug"
    # Allowed, and still through the text detector: the URL keeps its shape, not its password.
    assert values["REDIS_URL"] == "redis://:[REDACTED:password]@cache:6379"
    assert values["DB_PASSWORD"] == "[REDACTED:env-value]"
    assert values["PAYMENT_PROVIDER_CONFIG"] == "[REDACTED:env-value]"
    assert container["command"][0] == "/app/server"
    assert container["livenessProbe"]["exec"]["command"][:2] == ["sh", "-c"]
    assert "pg1234" not in repr(container)


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ('{"msg":"cfg","payload":"{\\"db_password\\":\\"Xy7-secret-9\\"}"}', "Xy7-secret-9"),
        ('{"line":"SECRET_KEY\\u003dAb12Cd34Ef56Gh"}', "Ab12Cd34Ef56Gh"),
        (
            "Authorization: token ghp_0123456789abcdefABCD\nEFGHIJKLmnopqrstuv12",
            "EFGHIJKLmnopqrstuv12",
        ),
        ("db:\n  password: |\n    Zq9xLm2Wv8Rt\n  pool: 5", "Zq9xLm2Wv8Rt"),
        ("connecting to redis://:Rz8-pass@cache:6379", "Rz8-pass"),
        ("+ curl -u admin:Adm1n-pw https://x", "Adm1n-pw"),
        ("mysql -uroot -pMy5qlPw -e 'select 1'", "My5qlPw"),
        ("<password>X9-xml-pw</password>", "X9-xml-pw"),
        ("GET /x Authorization: Token 0a1b2c3d4e5f60718293a4b5c6d7e8f9", "0a1b2c3d4e5f6071"),
        ("mailer SG.abcdefghijklmnop1234.qrstuvwxyzABCDEF5678", "qrstuvwxyzABCDEF5678"),
        ("GET /o?X-Amz-Signature=" + "ab12" * 16, "ab12ab12ab12"),
        ("docker login -u bob -p D0ckerPw registry.io", "D0ckerPw"),
        ("password is Hunter2Pw", "Hunter2Pw"),
        ("-Djavax.net.ssl.keyStorePassword=changeit", "changeit"),
        ("mongodb+srv://admin:M0ngoPw@cluster0.mongodb.net/test", "M0ngoPw"),
        ("Set-Cookie: JSESSIONID=8F3A1C2B4D5E6F7A8B9C0D1E; Path=/", "8F3A1C2B4D5E6F7A"),
        ("secret: !!binary c2VjcmV0LXZhbHVl", "c2VjcmV0LXZhbHVl"),
        ("HEROKU_API_KEY=01234567-89ab-cdef-0123-456789abcdef", "01234567-89ab"),
    ],
)
def test_escaped_split_and_syntactic_forms_are_redacted(text: str, secret: str) -> None:
    redacted = Redactor().redact_text(text)
    assert secret not in redacted
    assert Redactor().redact_text(redacted) == redacted


@pytest.mark.parametrize(
    "text",
    [
        "token is expired",
        "error: api_key: missing",
        "usage prompt_tokens=1523 completion_tokens=211",
        "authentication failed: invalid password for user app",
        "oauth2: cannot fetch token: 401 Unauthorized",
        "golang.org/x/net v0.25.0 h1:d/OCCoBEUq33pjydKrGQhw7IlUPI2Oylr+8qLx49kac=",
        "POST /api/v2/Users/12345/OrderHistory/Items 201",
        "trace_id=4bf92f3577b34da6a3ce929d0e0e4736",
        "DB_PASSWORD=${DB_PASSWORD}",
        "pull access denied, may require authorization: server message: insufficient_scope",
        "cache hit key=GET:/api/v1/Products/42",
        "password is required",
        "commit hash 9fceb02d0ae598e95dc970b74767f19372d61af8",
        "idempotency key 7f3c9a2e-1b4d-4e8f-9a6b-2c1d0e9f8a7b",
    ],
)
def test_error_phrases_hashes_and_counts_are_kept(text: str) -> None:
    assert Redactor().redact_text(text) == text
