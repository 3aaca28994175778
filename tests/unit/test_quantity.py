"""We test these aspects of Kubernetes quantities (kubemedic.domain.quantity):

- every suffix form parses to the exact value (binary, decimal SI, exponent, signs, bare dots);
- malformed text and non-quantity types are rejected with a ValueError naming the input;
- formatting picks the canonical (largest exact) suffix and rounds sub-nano values up;
- round trips: canonical text survives parse → format, and values survive format → parse;
- rounding byte counts to whole MiB, and the human-readable byte format used in evidence.
"""

import decimal
import random

import pytest

from kubemedic.domain import quantity

D = decimal.Decimal
KI, MI, GI, TI = 1024, 1024**2, 1024**3, 1024**4


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("128Mi", 128 * MI),
        ("1Gi", GI),
        ("1.5Gi", 1536 * MI),
        ("2Ti", 2 * TI),
        ("64Ki", 64 * KI),
        ("3Pi", 3 * 1024**5),
        ("1Ei", 1024**6),
        ("500m", D("0.5")),
        ("100n", D("0.0000001")),
        ("250u", D("0.00025")),
        ("2k", 2000),
        ("1M", 10**6),
        ("4G", 4 * 10**9),
        ("1T", 10**12),
        ("1P", 10**15),
        ("1E", 10**18),
        ("1e3", 1000),
        ("1E3", 1000),
        ("12e-3", D("0.012")),
        ("1.5e+2", 150),
        ("0.1", D("0.1")),
        (".5", D("0.5")),
        ("1.", 1),
        ("-1", -1),
        ("+5", 5),
        ("0", 0),
        ("  64Mi ", 64 * MI),
        (1024, 1024),
        (1.5, D("1.5")),
    ],
)
def test_parse_exact_values(text: str | int | float, expected: int | D) -> None:
    assert quantity.parse_quantity(text) == D(expected)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Mi",
        "1Mb",
        "1mi",
        "1KI",
        "1ki",
        "1.2.3",
        "1 Gi",
        "abc",
        "1e",
        "e3",
        "--1",
        "1e99999",
        "9" * 100,
        "NaN",
        "Infinity",
        float("nan"),
        float("inf"),
        True,
        None,
        [],
        {"memory": "1Gi"},
    ],
)
def test_parse_rejects_malformed_input(text: object) -> None:
    with pytest.raises(ValueError, match=r"quantity|exponent|characters"):
        quantity.parse_quantity(text)  # type: ignore[arg-type]
    assert quantity.try_parse_quantity(text) is None


@pytest.mark.parametrize(
    ("value", "binary", "expected"),
    [
        (128 * MI, True, "128Mi"),
        (GI, True, "1Gi"),
        (1536 * MI, True, "1536Mi"),
        (3 * TI, True, "3Ti"),
        (-2 * KI, True, "-2Ki"),
        (1000, True, "1k"),  # not a multiple of 1024: decimal form
        (1000, False, "1k"),
        (1500, False, "1500"),
        (2 * 10**9, False, "2G"),
        (D("0.5"), False, "500m"),
        (D("0.25"), True, "250m"),
        (D("0.000005"), False, "5u"),
        (D("0.0000001"), False, "100n"),
        (D("1e-10"), False, "1n"),  # rounded up to the next nano unit
        (D("1.0000000001"), False, "1000000001n"),
        (0, True, "0"),
        (7, False, "7"),
    ],
)
def test_format_canonical(value: int | D, binary: bool, expected: str) -> None:
    assert quantity.format_quantity(value, binary=binary) == expected


@pytest.mark.parametrize(
    "text", ["128Mi", "1Gi", "1536Mi", "2Ti", "64Ki", "500m", "1k", "1500", "100n", "5u", "3", "4G"]
)
def test_canonical_text_round_trips(text: str) -> None:
    binary = text.endswith("i")
    assert quantity.format_quantity(quantity.parse_quantity(text), binary=binary) == text


def _sample_values() -> list[D]:
    rng = random.Random(20250314)
    values: list[D] = []
    for _ in range(300):
        values.append(D(rng.randrange(0, 10**12)))
        values.append(D(rng.randrange(1, 64)) * D(rng.choice([KI, MI, GI, TI])))
        values.append(D(rng.randrange(-(10**12), 10**12)).scaleb(-rng.randrange(0, 10)))
    return values


@pytest.mark.parametrize("binary", [True, False])
def test_values_round_trip(binary: bool) -> None:
    for value in _sample_values():
        text = quantity.format_quantity(value, binary=binary)
        assert quantity.parse_quantity(text) == value, (value, text)


@pytest.mark.parametrize(
    ("value", "up", "down"),
    [
        (1, MI, 0),
        (MI, MI, MI),
        (MI + 1, 2 * MI, MI),
        (D("1.5") * MI, 2 * MI, MI),
        (int(D("1.3") * 128 * MI), 167 * MI, 166 * MI),
    ],
)
def test_rounding_to_whole_mebibytes(value: int | D, up: int, down: int) -> None:
    assert quantity.round_up_to_mebibytes(value) == up
    assert quantity.round_down_to_mebibytes(value) == down


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (128 * MI, "128Mi"),
        (2 * GI, "2Gi"),
        (533725184, "509Mi"),
        (1472564 * KI, "1472564Ki"),
        (1507905537, "1438.1Mi"),
        (0, "0"),
    ],
)
def test_format_bytes_for_evidence(value: int, expected: str) -> None:
    assert quantity.format_bytes(value) == expected
