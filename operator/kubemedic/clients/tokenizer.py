"""The model's tokenizer, loaded with transformers, as a plain ``str -> int`` counter.

``KUBEMEDIC_LLM_TOKENIZER`` is a local directory (``tokenizer.json`` and
``tokenizer_config.json``, as ``save_pretrained`` writes them; mount the model's files there)
or a Hugging Face model id, which transformers downloads unless ``HF_HUB_OFFLINE=1``. Without
one, the prompt budget is kept with vLLM's ``/tokenize`` (see :mod:`kubemedic.service.llm`).

NB: transformers is imported here, lazily, because importing it takes over a second; the
operator only pays for it when a tokenizer is configured.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

logger = logging.getLogger(__name__)

TokenCounter = Callable[[str], int]


class TokenizerError(Exception):
    """The tokenizer could not be loaded; the message names the setting and the path."""


def load_token_counter(name_or_path: str) -> TokenCounter:
    """A counter of the tokens ``name_or_path``'s tokenizer makes of a text (no special
    tokens: the chat template's are budgeted separately)."""
    try:
        from transformers import AutoTokenizer  # noqa: PLC0415 - slow import, see module doc

        tokenizer: Any = AutoTokenizer.from_pretrained(name_or_path)
    except Exception as exc:
        msg = f"KUBEMEDIC_LLM_TOKENIZER={name_or_path!r} cannot be loaded: {exc}"
        raise TokenizerError(msg) from exc
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        # NB: the Rust tokenizer directly: no "sequence longer than the model" warnings
        # for a whole log, and no Python-side overhead per call.
        def count_fast(text: str) -> int:
            return len(backend.encode(text, add_special_tokens=False).ids)

        return count_fast

    def count(text: str) -> int:
        return len(tokenizer.encode(text, add_special_tokens=False))

    return count


__all__ = ["TokenCounter", "TokenizerError", "load_token_counter"]
