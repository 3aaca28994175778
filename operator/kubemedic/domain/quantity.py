"""Kubernetes resource quantities (``128Mi``, ``1Gi``, ``500m``, ``1e3``) as exact decimals.

The grammar is the one of ``k8s.io/apimachinery/pkg/api/resource``::

    <quantity> ::= <signedNumber><suffix>
    <suffix>   ::= <binarySI> | <decimalExponent> | <decimalSI>
    <binarySI> ::= Ki | Mi | Gi | Ti | Pi | Ei
    <decimalSI>::= n | u | m | "" | k | M | G | T | P | E
    <decimalExponent> ::= "e" <signedNumber> | "E" <signedNumber>

Values are :class:`decimal.Decimal`, never floats: ``0.1`` CPU or ``1.5Gi`` must survive a
round trip exactly, and a memory limit is a byte count that must not drift by one.
:func:`format_quantity` produces the canonical short form (largest exact suffix), so
``parse_quantity(format_quantity(x)) == x`` for any value with at most nano precision
and ``format_quantity(parse_quantity(s)) == s`` for any canonical ``s``.
"""

import decimal
import re
from typing import Final

#: Binary suffixes, largest first (used for formatting).
BINARY_SUFFIXES: Final[tuple[tuple[str, int], ...]] = (
    ("Ei", 1024**6),
    ("Pi", 1024**5),
    ("Ti", 1024**4),
    ("Gi", 1024**3),
    ("Mi", 1024**2),
    ("Ki", 1024),
)

#: Decimal SI suffixes with their power of ten.
DECIMAL_SUFFIXES: Final[dict[str, int]] = {
    "n": -9,
    "u": -6,
    "m": -3,
    "": 0,
    "k": 3,
    "M": 6,
    "G": 9,
    "T": 12,
    "P": 15,
    "E": 18,
}

MEBIBYTE: Final = 1024**2
GIBIBYTE: Final = 1024**3

# NB: the exponent form is tried before the plain "E" (exa) suffix, so "1e3" is 1000 and
# "1E" is 10**18 — exactly as apimachinery reads them.
_QUANTITY_RE: Final = re.compile(
    r"^(?P<sign>[+-]?)(?P<number>[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
    r"(?P<suffix>[eE][+-]?[0-9]+|Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?$"
)

#: Longest text accepted; real quantities are a dozen characters.
MAX_QUANTITY_CHARS: Final = 64
#: Largest decimal exponent accepted (apimachinery rejects far smaller values anyway).
MAX_EXPONENT: Final = 64

# NB: enough digits for 2^63 bytes at nano precision with room to spare; the default
# context (28 digits) would round large byte counts silently.
_CONTEXT: Final = decimal.Context(prec=80, rounding=decimal.ROUND_HALF_EVEN)
_NANO: Final = decimal.Decimal("1e-9")


def parse_quantity(text: str | int | float) -> decimal.Decimal:
    """Parse a Kubernetes quantity into an exact decimal (bytes for memory, cores for CPU).

    Integers and floats are accepted because YAML turns ``memory: 1024`` into a number.
    Raises :class:`ValueError` naming the offending text when it is not a quantity.
    """
    if isinstance(text, bool):
        msg = f"quantity must be a string or number, not {text!r}"
        raise ValueError(msg)
    if isinstance(text, int | float):
        text = repr(text) if isinstance(text, float) else str(text)
    if not isinstance(text, str):
        msg = f"quantity must be a string or number, not {type(text).__name__}"
        raise ValueError(msg)
    stripped = text.strip()
    if len(stripped) > MAX_QUANTITY_CHARS:
        msg = f"quantity must be at most {MAX_QUANTITY_CHARS} characters, got {len(stripped)}"
        raise ValueError(msg)
    match = _QUANTITY_RE.match(stripped)
    if match is None:
        msg = f"'{text}' is not a Kubernetes quantity (expected e.g. '128Mi', '1Gi', '500m', '1e3')"
        raise ValueError(msg)
    number = decimal.Decimal(match["number"].rstrip(".") or "0", context=_CONTEXT)
    if match["sign"] == "-":
        number = -number
    suffix = match["suffix"] or ""
    if suffix[:1] in {"e", "E"} and suffix not in DECIMAL_SUFFIXES and suffix != "Ei":
        exponent = int(suffix[1:])
        if abs(exponent) > MAX_EXPONENT:
            msg = f"'{text}': exponent must be between -{MAX_EXPONENT} and {MAX_EXPONENT}"
            raise ValueError(msg)
        return _CONTEXT.multiply(number, decimal.Decimal(1).scaleb(exponent, _CONTEXT))
    for name, factor in BINARY_SUFFIXES:
        if suffix == name:
            return _CONTEXT.multiply(number, decimal.Decimal(factor))
    return _CONTEXT.multiply(number, decimal.Decimal(1).scaleb(DECIMAL_SUFFIXES[suffix], _CONTEXT))


def try_parse_quantity(value: object) -> decimal.Decimal | None:
    """Like :func:`parse_quantity`, but ``None`` for anything that is not a quantity.

    For analyzers reading raw API objects, where a malformed field is evidence of nothing.
    """
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        return None
    try:
        return parse_quantity(value)
    except (ValueError, decimal.InvalidOperation):
        return None


def format_quantity(value: decimal.Decimal | int, *, binary: bool = False) -> str:
    """Format a value in canonical form: the largest suffix that represents it exactly.

    With ``binary=True`` whole multiples of 1024 use ``Ki``..``Ei`` (the form memory is
    written in); anything else falls back to decimal SI. Values finer than a nano unit
    are rounded up to the next nano unit, as apimachinery does.
    """
    amount = decimal.Decimal(value)
    if not amount.is_finite():
        msg = f"quantity must be finite, got {value!r}"
        raise ValueError(msg)
    if amount == 0:
        return "0"
    sign = "-" if amount < 0 else ""
    amount = abs(amount)
    if amount == amount.to_integral_value():
        whole = int(amount)
        if binary:
            for name, factor in BINARY_SUFFIXES:
                if whole % factor == 0:
                    return f"{sign}{whole // factor}{name}"
        for name, power in sorted(DECIMAL_SUFFIXES.items(), key=lambda item: -item[1]):
            if power > 0 and whole % 10**power == 0:
                return f"{sign}{whole // 10**power}{name}"
        return f"{sign}{whole}"
    nanos = _CONTEXT.divide(amount, _NANO).to_integral_value(rounding=decimal.ROUND_CEILING)
    for name, power in (("m", 6), ("u", 3)):
        if int(nanos) % 10**power == 0:
            return f"{sign}{int(nanos) // 10**power}{name}"
    return f"{sign}{int(nanos)}n"


def round_up_to_mebibytes(value: decimal.Decimal | int) -> int:
    """Round a byte count up to a whole MiB (memory limits are written in Mi)."""
    amount = decimal.Decimal(value)
    mebibytes = _CONTEXT.divide(amount, decimal.Decimal(MEBIBYTE)).to_integral_value(
        rounding=decimal.ROUND_CEILING
    )
    return int(mebibytes) * MEBIBYTE


def round_down_to_mebibytes(value: decimal.Decimal | int) -> int:
    """Round a byte count down to a whole MiB (used for upper bounds)."""
    amount = decimal.Decimal(value)
    mebibytes = _CONTEXT.divide(amount, decimal.Decimal(MEBIBYTE)).to_integral_value(
        rounding=decimal.ROUND_FLOOR
    )
    return int(mebibytes) * MEBIBYTE


def format_bytes(value: decimal.Decimal | int) -> str:
    """A byte count for humans and for memory fields: ``192Mi``, ``2Gi``, ``1.5Gi`` style.

    Exact binary suffix when there is one, else a Mi value with at most one decimal
    (for evidence text only; limits proposed by the engine are always whole Mi).
    """
    amount = decimal.Decimal(value)
    exact = format_quantity(amount, binary=True)
    if exact.endswith("i") or amount == 0:
        return exact
    mebibytes = _CONTEXT.divide(amount, decimal.Decimal(MEBIBYTE))
    return f"{mebibytes.quantize(decimal.Decimal('0.1'), rounding=decimal.ROUND_HALF_UP)}Mi"
