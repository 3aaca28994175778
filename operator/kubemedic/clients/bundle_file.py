"""Reading a bundle file someone handed us: bounded in time, memory and nesting.

A bundle file is input from anywhere (a ticket attachment, a colleague's laptop), so
``kubemedic diagnose --bundle FILE`` must answer every file with a result or one message —
never a hang, a traceback or unbounded memory:

- Only regular files. The file is opened with ``O_NONBLOCK`` (opening a FIFO would otherwise
  wait for a writer forever) and checked with ``fstat`` on the open descriptor, so a symlink is
  followed but ``/dev/zero``, a FIFO, a socket or a directory is refused, and nothing can be
  swapped in between a check and the read.
- At most ``max_bytes`` are read (``max_bytes + 1``, to tell "exactly the cap" from "more"),
  whatever ``st_size`` says (``/proc`` files report 0).
- YAML is parsed with libyaml (``yaml.CSafeLoader``), falling back to the pure-Python
  ``SafeLoader`` with a logged note where PyYAML was built without it.
- Before anything is built, one pass over the parser's events (the parser keeps explicit
  stacks, so this pass cannot overflow the stack) bounds the nesting depth, the nodes that
  aliases would add (a "billion laughs" file is a few hundred bytes) and the length of
  integers: Python refuses to convert integers over 4,300 digits, and YAML 1.1's base-60
  integers (``1:2:3:...``) cost quadratic time to build.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
from pathlib import Path
from typing import Any, Final

import yaml
from yaml.resolver import Resolver

logger = logging.getLogger(__name__)

DEFAULT_MAX_BYTES: Final = 64 * 1024 * 1024
#: Deepest nesting of mappings and sequences; Kubernetes objects need about 20 levels.
MAX_DEPTH: Final = 100
#: Longest integer (characters of the plain scalar); int64, the API's widest, has 19 digits.
MAX_INT_CHARS: Final = 64
#: Most nodes that aliases may add on top of the nodes written out in the file.
MAX_ALIAS_NODES: Final = 1_000_000

_INT_TAG: Final = "tag:yaml.org,2002:int"
_READ_CHUNK: Final = 1024 * 1024

_FILE_TYPES: Final = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


class BundleFileError(ValueError):
    """A bundle file that cannot be used; the message names the problem (not the path)."""


def _loader() -> type[yaml.SafeLoader]:
    loader: type[yaml.SafeLoader] | None = getattr(yaml, "CSafeLoader", None)
    if loader is not None:
        return loader
    logger.warning(
        "PyYAML has no libyaml (yaml.CSafeLoader); reading bundles with the slower "
        "pure-Python loader — install PyYAML with libyaml for speed"
    )
    return yaml.SafeLoader


def _kind_of(mode: int) -> str:
    for test, name in _FILE_TYPES:
        if test(mode):
            return name
    return "not a regular file"


def read_regular_file(path: Path, *, max_bytes: int) -> bytes:
    """The bytes of ``path`` (symlinks followed) if it is a regular file of at most ``max_bytes``."""
    try:
        # NB: O_NONBLOCK so that opening a FIFO returns at once instead of waiting for a writer.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise BundleFileError("no such file") from None
    except IsADirectoryError:
        raise BundleFileError("is a directory, not a regular file") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise BundleFileError("too many levels of symbolic links") from None
        raise BundleFileError(f"cannot open: {exc.strerror}") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise BundleFileError(f"is {_kind_of(info.st_mode)}, not a regular file")
    with os.fdopen(fd, "rb", buffering=0) as file:
        if info.st_size > max_bytes:
            raise BundleFileError(_too_big(max_bytes, f"{info.st_size} bytes"))
        chunks: list[bytes] = []
        left = max_bytes + 1
        try:
            while left > 0:
                chunk = file.read(min(left, _READ_CHUNK))
                if not chunk:
                    break
                chunks.append(chunk)
                left -= len(chunk)
        except OSError as exc:
            raise BundleFileError(f"cannot read: {exc.strerror}") from None
    data = b"".join(chunks)
    if len(data) > max_bytes:
        raise BundleFileError(_too_big(max_bytes, "more than that"))
    return data


def _too_big(max_bytes: int, actual: str) -> str:
    return (
        f"is too large: at most {max_bytes} bytes are read, the file has {actual} "
        "(raise KUBEMEDIC_BUNDLE_MAX_BYTES to read it)"
    )


def parse_yaml(data: bytes) -> Any:
    """The one YAML (or JSON) document in ``data``, within the limits of this module."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BundleFileError(
            f"is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
            "a bundle is YAML or JSON"
        ) from None
    if not text.strip():
        raise BundleFileError("is empty; a bundle is a YAML or JSON IncidentBundle")
    loader = _loader()
    try:
        _check_events(text, loader)
        return yaml.load(text, Loader=loader)  # noqa: S506 - a SafeLoader (C or Python)
    except yaml.YAMLError as exc:
        raise BundleFileError(f"is not valid YAML or JSON: {_yaml_problem(exc)}") from None
    except RecursionError:  # pragma: no cover - MAX_DEPTH keeps far below the limit
        raise BundleFileError(f"nests deeper than {MAX_DEPTH} levels") from None


def _check_events(text: str, loader: type[yaml.SafeLoader]) -> None:
    resolver = Resolver()
    depth = 0
    literal = 0
    added_by_aliases = 0
    anchored: dict[str, int] = {}
    #: (anchor, nodes counted when the collection started) per open collection
    open_collections: list[tuple[str | None, int]] = []
    for event in yaml.parse(text, Loader=loader):
        if isinstance(event, yaml.ScalarEvent):
            literal += 1
            if event.anchor:
                anchored[event.anchor] = 1
            if (
                event.implicit[0]
                and len(event.value) > MAX_INT_CHARS
                and _resolve(resolver, event) == _INT_TAG
            ):
                raise BundleFileError(
                    f"has an integer of {len(event.value)} characters at {_where(event)}; "
                    f"at most {MAX_INT_CHARS} are accepted (quote it to keep it as text)"
                )
        elif isinstance(event, yaml.SequenceStartEvent | yaml.MappingStartEvent):
            literal += 1
            depth += 1
            if depth > MAX_DEPTH:
                raise BundleFileError(
                    f"nests deeper than {MAX_DEPTH} levels (at {_where(event)}); "
                    "a bundle's objects need far fewer"
                )
            open_collections.append((event.anchor, literal + added_by_aliases - 1))
        elif isinstance(event, yaml.SequenceEndEvent | yaml.MappingEndEvent):
            depth -= 1
            anchor, started = open_collections.pop()
            if anchor:
                anchored[anchor] = literal + added_by_aliases - started
        elif isinstance(event, yaml.AliasEvent):
            added_by_aliases += anchored.get(str(event.anchor), 1)
            if added_by_aliases > MAX_ALIAS_NODES:
                raise BundleFileError(
                    f"expands to more than {MAX_ALIAS_NODES} extra nodes through YAML "
                    f"aliases (at {_where(event)}); write the values out instead"
                )


def _resolve(resolver: Resolver, event: yaml.ScalarEvent) -> str:
    """The tag YAML gives a plain scalar (``tag:yaml.org,2002:int`` for an integer)."""
    tag: str = resolver.resolve(yaml.ScalarNode, event.value, event.implicit)  # type: ignore[no-untyped-call]
    return tag


def _where(event: yaml.Event) -> str:
    mark = event.start_mark
    return f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown position"


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """One line: what is wrong and where (PyYAML's own text spans several lines)."""
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        context = f"{exc.context}, " if exc.context else ""
        return f"{where}{context}{exc.problem}"
    return " ".join(str(exc).split())
