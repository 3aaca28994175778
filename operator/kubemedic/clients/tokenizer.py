"""The model's tokenizer, loaded with ``tokenizers``, as a plain ``str -> int`` counter.

``KUBEMEDIC_LLM_TOKENIZER`` is a local directory holding the model's ``tokenizer.json`` (as
``save_pretrained`` writes it; mount the model's files there), that file itself, or a Hugging
Face model id, whose ``tokenizer.json`` is downloaded unless ``HF_HUB_OFFLINE=1``. Without
one, the prompt budget is kept with vLLM's ``/tokenize`` (see :mod:`kubemedic.service.llm_refiner`).

NB: counting tokens needs only the Rust tokenizer that ``tokenizer.json`` describes, which the
small ``tokenizers`` package loads; ``transformers`` (hundreds of MB with its dependencies)
is an optional extra, ``pip install 'kubemedic[transformers]'``, used only for a directory
without ``tokenizer.json`` (a model that ships just a slow, e.g. SentencePiece, tokenizer).
Both are imported lazily: the operator pays for them only when a tokenizer is configured.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

logger = logging.getLogger(__name__)

TokenCounter = Callable[[str], int]

TOKENIZER_FILE: Final = "tokenizer.json"


class TokenizerError(Exception):
    """The tokenizer could not be loaded; the message names the setting and the path."""


def load_token_counter(name_or_path: str) -> TokenCounter:
    """A counter of the tokens ``name_or_path``'s tokenizer makes of a text (no special
    tokens: the chat template's are budgeted separately)."""
    path = Path(name_or_path).expanduser()
    try:
        if path.is_dir() and not (path / TOKENIZER_FILE).is_file():
            return _transformers_counter(name_or_path)
        from tokenizers import Tokenizer  # noqa: PLC0415 - see module doc

        if path.is_dir():
            tokenizer = Tokenizer.from_file(str(path / TOKENIZER_FILE))
        elif path.is_file():
            tokenizer = Tokenizer.from_file(str(path))
        else:
            tokenizer = Tokenizer.from_pretrained(name_or_path)
        # NB: a tokenizer.json may carry the model's truncation or padding: a count must not.
        tokenizer.no_truncation()
        tokenizer.no_padding()
    except TokenizerError:
        raise
    except Exception as exc:
        msg = f"KUBEMEDIC_LLM_TOKENIZER={name_or_path!r} cannot be loaded: {exc}"
        raise TokenizerError(msg) from exc

    def count(text: str) -> int:
        return len(tokenizer.encode(text, add_special_tokens=False).ids)

    return count


def _transformers_counter(directory: str) -> TokenCounter:
    try:
        from transformers import AutoTokenizer  # noqa: PLC0415 - optional extra
    except ImportError:
        msg = (
            f"KUBEMEDIC_LLM_TOKENIZER={directory!r} has no {TOKENIZER_FILE}; mount the "
            f"model's {TOKENIZER_FILE}, or install kubemedic[transformers] to load its "
            "other tokenizer files"
        )
        raise TokenizerError(msg) from None
    tokenizer: Any = AutoTokenizer.from_pretrained(directory)

    def count(text: str) -> int:
        return len(tokenizer.encode(text, add_special_tokens=False))

    return count


__all__ = ["TokenCounter", "TokenizerError", "load_token_counter"]
