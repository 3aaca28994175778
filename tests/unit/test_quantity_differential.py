"""Differential tests: kubemedic's quantity parser against the Kubernetes Python client's.

``kubernetes.utils.parse_quantity`` is an independent implementation of the same grammar
(apimachinery's ``resource.Quantity``), so every quantity both accept must parse to the same
exact value. Inputs come from a fixed table of the forms clusters really write and from a
seeded random generator (the same inputs on every run, so a failure reproduces), covering
signs, fractions, every suffix and exponents.

Where the two differ on purpose, the table says why, and kubemedic's answer is the one
apimachinery gives:

- the client accepts ``K`` (apimachinery has only ``k``), ``_`` digit separators, ``NaN``,
  ``Infinity`` and a space before the suffix (all from Python's ``Decimal``) and
  ``ni``/``mi``-style binary fractions;
  kubemedic rejects them, as the API server does;
- the client turns a float into its binary expansion (``0.1`` → 0.1000000000000000055...);
  kubemedic keeps the decimal the YAML author wrote;
- the client computes in the current decimal context (28 digits), so it is compared under a
  wide context here; kubemedic always computes exactly.
"""

import decimal
import random
from collections.abc import Iterator

import pytest
from kubernetes.utils import parse_quantity as client_parse_quantity

from kubemedic.domain import quantity

SEED = 20_250_101
GENERATED = 2000
BINARY = ("Ki", "Mi", "Gi", "Ti", "Pi", "Ei")
DECIMAL_SI = ("n", "u", "m", "", "k", "M", "G", "T", "P", "E")

#: Forms seen in real manifests and kubelet/metrics output.
TABLE = (
    "0",
    "1",
    "100m",
    "250m",
    "1500m",
    "0.5",
    "2",
    "128Mi",
    "1Gi",
    "1.5Gi",
    "512Ki",
    "64M",
    "1G",
    "1e3",
    "1E3",
    "1e-3",
    "2.5e+6",
    "1E",
    "1Ei",
    "8Ei",
    ".5",
    "5.",
    "+1",
    "-1Mi",
    "-250m",
    "100n",
    "3u",
    "10k",
    "7T",
    "2Pi",
    "123456789",
    "0.000000001",
)


def generated_quantities(count: int = GENERATED, *, seed: int = SEED) -> Iterator[str]:
    """Valid quantities of every shape: sign, integer/fraction, suffix or exponent."""
    rng = random.Random(seed)
    for _ in range(count):
        sign = rng.choice(("", "", "", "+", "-"))
        whole = str(rng.randrange(0, 10 ** rng.randint(1, 9)))
        shape = rng.random()
        if shape < 0.2:
            number = f"{whole}.{rng.randrange(0, 1000):03d}"
        elif shape < 0.25:
            number = f".{rng.randrange(1, 1000)}"
        elif shape < 0.3:
            number = f"{whole}."
        else:
            number = whole
        form = rng.random()
        if form < 0.35:
            suffix = rng.choice(BINARY)
        elif form < 0.8:
            suffix = rng.choice(DECIMAL_SI)
        else:
            suffix = f"{rng.choice('eE')}{rng.choice(('', '+', '-'))}{rng.randint(0, 18)}"
        yield f"{sign}{number}{suffix}"


def client_value(text: str | int) -> decimal.Decimal:
    """The client's value, computed without its 28-digit rounding."""
    with decimal.localcontext(decimal.Context(prec=80)):
        return decimal.Decimal(client_parse_quantity(text))


@pytest.mark.parametrize("text", TABLE)
def test_table_matches_the_client(text: str) -> None:
    assert quantity.parse_quantity(text) == client_value(text)


def test_generated_quantities_match_the_client() -> None:
    mismatches = [
        (text, quantity.parse_quantity(text), client_value(text))
        for text in generated_quantities()
        if quantity.parse_quantity(text) != client_value(text)
    ]
    assert mismatches == []


def test_generation_covers_every_suffix() -> None:
    """The generator is what makes the differential test worth anything: check its reach."""
    texts = list(generated_quantities())
    assert len(set(texts)) > GENERATED * 0.9
    for suffix in (*BINARY, "n", "u", "m", "k", "M", "G", "T", "P"):
        assert any(t.endswith(suffix) for t in texts), suffix
    assert any(t.endswith("E") for t in texts)
    assert any("e-" in t.lower() for t in texts)
    assert any(t.startswith("-") for t in texts)
    assert any("." in t for t in texts)


@pytest.mark.parametrize("value", [0, 1, 1024, 10**18, 2**63 - 1, -5])
def test_integers_match_the_client(value: int) -> None:
    assert quantity.parse_quantity(value) == client_value(value)


def test_huge_values_are_exact() -> None:
    """Beyond 28 digits the client rounds in its default context; kubemedic never does."""
    text = "123456789012345678901234567890Ei"
    exact = decimal.Decimal(123456789012345678901234567890 * 1024**6)
    assert quantity.parse_quantity(text) == exact == client_value(text)
    assert client_parse_quantity(text) != exact  # the client's default 28-digit context


@pytest.mark.parametrize(
    ("value", "written"),
    [(0.1, "0.1"), (0.3, "0.3"), (2.675, "2.675"), (1e-7, "1E-7")],
)
def test_floats_keep_the_written_decimal(value: float, written: str) -> None:
    assert quantity.parse_quantity(value) == decimal.Decimal(written)
    assert client_value(value) != decimal.Decimal(written)  # the binary expansion


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("1K", id="uppercase K is not an apimachinery suffix"),
        pytest.param("1_000", id="digit separators"),
        pytest.param("NaN", id="NaN"),
        pytest.param("Infinity", id="Infinity"),
        pytest.param("1mi", id="binary milli"),
        pytest.param("1ni", id="binary nano"),
        pytest.param("1 Mi", id="space before the suffix"),
    ],
)
def test_rejects_what_only_the_client_accepts(text: str) -> None:
    client_parse_quantity(text)  # the client is lenient here
    with pytest.raises(ValueError, match="quantity"):
        quantity.parse_quantity(text)


@pytest.mark.parametrize("text", ["", "Mi", "abc", "1.2.3", "1Mii", "1ki", "--1"])
def test_both_reject_garbage(text: str) -> None:
    with pytest.raises(ValueError, match=r"Invalid number format|unknown suffix"):
        client_parse_quantity(text)
    with pytest.raises(ValueError, match="quantity"):
        quantity.parse_quantity(text)


def test_formatted_quantities_parse_back_in_the_client() -> None:
    """What kubemedic writes into a patch, the client (and the API server) reads exactly."""
    rng = random.Random(SEED)
    for _ in range(GENERATED):
        nanos = rng.randrange(1, 10**15)
        value = decimal.Decimal(nanos).scaleb(-9)
        assert client_value(quantity.format_quantity(value)) == value
        whole = rng.randrange(1, 2**40) * rng.choice((1, 1024, 1024**2, 1000))
        for binary in (True, False):
            assert client_value(quantity.format_quantity(whole, binary=binary)) == whole
