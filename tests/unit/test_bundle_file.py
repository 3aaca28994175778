"""`kubemedic diagnose --bundle` on files nobody should trust: exit 2 and one message each.

Every hostile or broken file must end in exit code 2 with a message that names the file and
the problem — never a traceback, a hang (the FIFO) or unbounded memory (``/dev/zero``).
The CLI runs in-process; each test has a short pytest timeout so a hang fails instead of
blocking the suite.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from kubemedic import cli
from kubemedic.clients import bundle_file
from kubemedic.clients.bundle_file import MAX_DEPTH, MAX_INT_CHARS, BundleFileError

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = ROOT / "tests" / "scenarios" / "oom-deployment-limit-too-low.yaml"

pytestmark = pytest.mark.timeout(60)


def diagnose(path: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str]:
    """Run `kubemedic diagnose --bundle PATH`; (exit code, stderr)."""
    with pytest.raises(SystemExit) as exited:
        cli.main(["diagnose", "--bundle", str(path), *extra])
    return int(exited.value.code or 0), capsys.readouterr().err


def expect_usage_error(path: Path, capsys: pytest.CaptureFixture[str], *fragments: str) -> str:
    code, err = diagnose(path, capsys)
    assert code == 2, err
    assert err.startswith(f"kubemedic: error: {path}: "), err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in err, err
    return err


def bundle_text(**extra: object) -> str:
    data = yaml.safe_load(SCENARIO.read_text())
    data.update(extra)
    return yaml.safe_dump(data)


def test_a_valid_bundle_is_diagnosed(capsys: pytest.CaptureFixture[str]) -> None:
    assert SCENARIO.exists()
    assert cli.main(["diagnose", "--bundle", str(SCENARIO), "-o", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["category"] == "OOMKilled"


def test_a_valid_bundle_through_a_symlink_is_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    link = tmp_path / "link.yaml"
    link.symlink_to(SCENARIO)
    assert cli.main(["diagnose", "--bundle", str(link), "-o", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["category"] == "OOMKilled"


@pytest.mark.timeout(10)
def test_a_fifo_is_refused_without_waiting_for_a_writer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fifo = tmp_path / "bundle.yaml"
    os.mkfifo(fifo)
    expect_usage_error(fifo, capsys, "FIFO", "not a regular file")


@pytest.mark.timeout(10)
def test_a_symlink_to_dev_zero_is_refused_without_reading_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    link = tmp_path / "bundle.yaml"
    link.symlink_to("/dev/zero")
    expect_usage_error(link, capsys, "character device", "not a regular file")


def test_a_directory_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    directory = tmp_path / "bundle.yaml"
    directory.mkdir()
    expect_usage_error(directory, capsys, "is a directory")


def test_a_missing_file_and_a_symlink_loop(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    expect_usage_error(tmp_path / "nope.yaml", capsys, "no such file")
    loop = tmp_path / "loop.yaml"
    loop.symlink_to(loop)
    expect_usage_error(loop, capsys, "symbolic links")


@pytest.mark.parametrize(
    "text",
    [
        "[" * 100_000 + "]" * 100_000,  # JSON, far beyond any limit
        "a: " + "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1),  # just beyond ours
        "".join(f"{'  ' * i}k{i}:\n" for i in range(MAX_DEPTH + 5)) + "  " * 105 + "x: 1\n",
        '{"a":' * 5000 + "1" + "}" * 5000,
    ],
    ids=["flow-100k", "flow-just-over", "block", "json-objects"],
)
def test_deep_nesting_is_refused(
    text: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text(text)
    err = expect_usage_error(path, capsys)
    assert "nest" in err, err


def test_nesting_a_bundle_needs_is_accepted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = yaml.safe_load(SCENARIO.read_text())
    nested: object = "leaf"
    for _ in range(MAX_DEPTH - 10):
        nested = {"k": nested}
    data["objects"][0].setdefault("metadata", {})["annotations"] = {}
    data["objects"].append({"apiVersion": "v1", "kind": "ConfigMap", "data": nested})
    path = tmp_path / "ok.yaml"
    path.write_text(yaml.safe_dump(data))
    assert cli.main(["diagnose", "--bundle", str(path), "-o", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["category"] == "OOMKilled"


@pytest.mark.parametrize(
    ("value", "length"),
    [
        ("9" * 5000, 5000),  # over Python's 4,300-digit int conversion limit
        ("9" * 1_000_000, 1_000_000),  # a million digits
        ("-" + "1" * 100, 101),
        ("0x" + "f" * 200_000, 200_002),  # hexadecimal: no Python limit, still refused
        (":".join(["59"] * 100_000), 299_999),  # YAML 1.1 base 60: quadratic to build
    ],
    ids=["5000-digits", "1e6-digits", "negative", "hex", "base60"],
)
def test_huge_integers_are_refused(
    value: str, length: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "ints.yaml"
    path.write_text(
        bundle_text(objects=[{"kind": "ConfigMap", "data": None}]).replace(
            "data: null", f"data: {value}"
        )
    )
    expect_usage_error(path, capsys, f"integer of {length} characters", "line ")


def test_integers_and_long_quoted_numbers_within_limits_are_accepted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    widest = int("9" * MAX_INT_CHARS)
    extra = {"kind": "ConfigMap", "data": {"widest": widest, "quoted": "7" * 100_000}}
    path = tmp_path / "ok.yaml"
    path.write_text(bundle_text(objects=[*yaml.safe_load(SCENARIO.read_text())["objects"], extra]))
    assert cli.main(["diagnose", "--bundle", str(path), "-o", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["category"] == "OOMKilled"
    assert bundle_file.parse_yaml(path.read_bytes())["objects"][-1] == extra


def test_alias_expansion_is_bounded(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for level in range(1, 10):
        refs = ", ".join([f"*a{level - 1}"] * 10)
        lines.append(f"a{level}: &a{level} [{refs}]")
    path = tmp_path / "laughs.yaml"
    path.write_text("\n".join(lines) + "\n")
    expect_usage_error(path, capsys, "aliases")


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (bytes(range(256)) * 16, "not UTF-8"),
        (b"\x7fELF\x02\x01\x01\x00" + bytes(64), "not valid YAML or JSON"),
        (b"kind: IncidentBundle\x00\x01", "not valid YAML or JSON"),
        (b"\xff\xfe\x00\x00", "not UTF-8"),
    ],
    ids=["all-bytes", "elf-header", "nul-in-text", "utf32-bom"],
)
def test_binary_junk_is_refused(
    content: bytes, fragment: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "junk.yaml"
    path.write_bytes(content)
    err = expect_usage_error(path, capsys, fragment)
    assert err.count("\n") == 1, "one line"


@pytest.mark.parametrize("content", ["", "\n\n   \n", "---\n"], ids=["empty", "blank", "doc-only"])
def test_an_empty_file_is_refused(
    content: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text(content)
    err = expect_usage_error(path, capsys)
    assert "empty" in err or "must be a mapping" in err, err


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("kind: Deployment\napiVersion: apps/v1\nmetadata: {name: web}\n", ["kind"]),
        ("- a\n- b\n", ["must be a mapping", "got list"]),
        ("just text\n", ["must be a mapping", "got str"]),
        ("a: 1\n---\nb: 2\n", ["not valid YAML or JSON", "single document"]),
        ("a: [1, 2\n", ["not valid YAML or JSON", "line "]),
    ],
    ids=["deployment", "list", "scalar", "two-documents", "unclosed"],
)
def test_wrong_kind_and_malformed_files(
    text: str, fragments: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bundle.yaml"
    path.write_text(text)
    expect_usage_error(path, capsys, *fragments)


def test_the_size_cap_is_a_setting_and_reads_at_most_cap_plus_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "big.yaml"
    path.write_text(SCENARIO.read_text())
    size = path.stat().st_size
    monkeypatch.setenv("KUBEMEDIC_BUNDLE_MAX_BYTES", str(size - 1))
    expect_usage_error(
        path, capsys, "too large", f"at most {size - 1} bytes", "KUBEMEDIC_BUNDLE_MAX_BYTES"
    )
    monkeypatch.setenv("KUBEMEDIC_BUNDLE_MAX_BYTES", str(size))
    assert cli.main(["diagnose", "--bundle", str(path)]) == 0
    capsys.readouterr()
    monkeypatch.setenv("KUBEMEDIC_BUNDLE_MAX_BYTES", "lots")
    code, err = diagnose(path, capsys)
    assert code == 2
    assert "KUBEMEDIC_BUNDLE_MAX_BYTES" in err


def test_a_file_larger_than_it_says_is_cut_at_the_cap() -> None:
    # /proc files report st_size 0 yet have content: only cap + 1 bytes are read.
    proc = Path("/proc/self/status")
    if not proc.exists():
        pytest.skip("no /proc")
    with pytest.raises(BundleFileError, match="too large"):
        bundle_file.read_regular_file(proc, max_bytes=16)
    assert len(bundle_file.read_regular_file(proc, max_bytes=1 << 20)) > 16


def test_without_libyaml_the_python_loader_is_used_with_a_note(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delattr(yaml, "CSafeLoader")
    assert bundle_file.parse_yaml(b"a: [1, 2]") == {"a": [1, 2]}
    assert "libyaml" in caplog.text
    with pytest.raises(BundleFileError, match="nests deeper"):
        bundle_file.parse_yaml(b"[" * 20_000 + b"]" * 20_000)
    with pytest.raises(BundleFileError, match="integer of 5000"):
        bundle_file.parse_yaml(b"a: " + b"1" * 5000)
