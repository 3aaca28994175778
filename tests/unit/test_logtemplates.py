"""Log template mining (domain/logtemplates.py) and ``kubemedic logs templates``.

We test these aspects:
- the message part is found in JSON (also docker's nested ``log``), logfmt, klog, syslog,
  log4j and bracketed/timestamped headers, and a plain line is left whole;
- values (numbers, IPs, hex, ids, ``key=value`` values, dates) are masked, words are kept;
- lines of one event in different formats share one template; different events do not;
- memory is bounded: the miner keeps at most ``max_clusters`` templates;
- the CLI puts every non-empty line in exactly one template (1-based line numbers), and a
  missing file exits 2 naming it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kubemedic import cli
from kubemedic.domain.logtemplates import (
    TemplateMiner,
    extract_message,
    group_lines,
    tokenize,
)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"level":"info","ts":1.7e9,"msg":"started worker 3"}', "started worker 3"),
        ('{"log":"E0101 10:00:00.000001       1 main.go:9] boom\\n","stream":"stderr"}', "boom"),
        ('time=2024-01-01T00:00:00Z level=warn msg="disk at 91%" dev=sda', "disk at 91%"),
        ("I1203 19:07:04.123456   12345 server.go:42] listening on :8080", "listening on :8080"),
        ("Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user admin", "Invalid user admin"),
        (
            "2024-01-01 10:00:00,123 [main] ERROR com.example.Billing - charge failed",
            "charge failed",
        ),
        ("[Sun Dec 04 04:47:44 2005] [error] mod_jk child in error state 6", None),
        ("081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 done", None),
        ("just a plain message", "just a plain message"),
    ],
)
def test_message_part(line: str, message: str | None) -> None:
    extracted = extract_message(line)
    if message is not None:
        assert extracted == message
    else:
        # the header (dates, levels, component) is gone, the message words are kept
        assert not extracted[0].isdigit()
        assert not extracted.startswith("[")
        assert extracted.split()[-1] in line


def test_values_are_masked_words_kept() -> None:
    tokens = tokenize("conn from 10.0.0.7:5432 id=abc uid=0 at Fri Jul 1 0x1f failed")
    assert tokens == [
        "conn",
        "from",
        "<*>",
        "id=<*>",
        "uid=<*>",
        "at",
        "<*>",
        "<*>",
        "<*>",
        "<*>",
        "failed",
    ]


def test_one_event_in_many_formats_is_one_template() -> None:
    lines = [
        '{"msg":"request 17 took 35ms"}',
        'level=info msg="request 18 took 12ms"',
        "I0101 00:00:00.000000       1 http.go:1] request 19 took 8ms",
        "Jan  1 00:00:00 web-1 app[7]: request 20 took 9ms",
        "disk /dev/sda1 is 93% full",
        "disk /dev/sdb1 is 97% full",
    ]
    groups = group_lines(lines)
    by_template = {g.template: g.lines for g in groups}
    assert by_template["request <*> took <*>"] == (1, 2, 3, 4)
    assert by_template["disk <*> is <*> full"] == (5, 6)


def test_different_events_stay_apart() -> None:
    lines = ["Starting TrustedInstaller initialization."] * 3 + [
        "Ending TrustedInstaller initialization."
    ] * 2
    groups = group_lines(lines)
    assert sorted(g.count for g in groups) == [2, 3]


def test_bounded_memory() -> None:
    miner = TemplateMiner(max_clusters=5)
    for i in range(50):
        miner.add(" ".join(["word" + chr(ord("a") + (i % 26))] * (1 + i % 7)) + f" x{i}")
    assert len(miner.templates) <= 5


def test_bad_configuration_is_refused() -> None:
    with pytest.raises(ValueError, match="similarity"):
        TemplateMiner(similarity=0)


def test_cli_every_line_in_one_template(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "app.log"
    log.write_text(
        "\n".join(
            [
                "2024-01-01T00:00:00Z INFO cache: evicted 12 keys",
                "",
                "2024-01-01T00:00:01Z INFO cache: evicted 7 keys",
                "2024-01-01T00:00:02Z ERROR db: connection refused",
                "   ",
                "2024-01-01T00:00:03Z INFO cache: evicted 3 keys",
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    assert cli.main(["logs", "templates", str(log), "-o", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    lines = sorted(n for t in out["templates"] for n in t["lines"])
    assert lines == [1, 3, 4, 6]
    first = out["templates"][0]
    assert set(first) == {"id", "template", "count", "lines"}
    assert first == {
        "id": first["id"],
        "template": "evicted <*> keys",
        "count": 3,
        "lines": [1, 3, 6],
    }


def test_cli_missing_file_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["logs", "templates", "/nonexistent/app.log"])
    assert exc.value.code == 2
    assert "/nonexistent/app.log" in capsys.readouterr().err
