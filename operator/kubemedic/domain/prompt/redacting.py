"""What the sections need of a redactor, and a per-prompt memo of its results.

Sections are rebuilt several times while a prompt is fitted to its budget; the memo makes
redaction of the same inputs cost once per prompt.
"""

from __future__ import annotations

from typing import Any, Protocol

from kubemedic.domain.redaction import Redactor


class Redacts(Protocol):
    """What the sections need of a redactor."""

    def redact_text(self, text: str) -> str: ...

    def redact_object(self, obj: Any) -> Any: ...


class MemoRedactor:
    """A redactor that remembers its results for the duration of one prompt build."""

    def __init__(self, inner: Redactor) -> None:
        self.inner = inner
        self._texts: dict[str, str] = {}
        self._objects: dict[int, tuple[Any, Any]] = {}

    def redact_text(self, text: str) -> str:
        found = self._texts.get(text)
        if found is None:
            found = self._texts[text] = self.inner.redact_text(text)
        return found

    def redact_object(self, obj: Any) -> Any:
        # NB: keyed by identity (and the object kept alive with its result): bundle objects
        # are not changed while a prompt is built.
        found = self._objects.get(id(obj))
        if found is None:
            found = self._objects[id(obj)] = (obj, self.inner.redact_object(obj))
        return found[1]
