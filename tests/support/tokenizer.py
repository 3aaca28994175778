"""A small byte-level BPE tokenizer, trained here with the ``tokenizers`` library.

No model weights or tokenizer files can be downloaded in tests, so the tests (and the
benchmark) train one on Kubernetes-flavoured text and save it the way ``save_pretrained``
does (``tokenizer.json``); ``kubemedic.clients.tokenizer`` then loads it from that directory
like a real model's.
It is trained on the scenario bundles and the package's source, so its token counts are in
the range of real models' (3-4 characters per token on prompts); byte-level BPE never fails
on unseen text.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

# NB: never reach the Hugging Face Hub from tests; set before huggingface_hub is imported.
os.environ["HF_HUB_OFFLINE"] = "1"

VOCAB_SIZE = 8000
ROOT = Path(__file__).resolve().parents[2]


def _corpus() -> Iterator[str]:
    """Text like what kubemedic prompts carry: the scenario bundles (Kubernetes objects,
    events, logs) and the package's own source (English docstrings, JSON-ish literals)."""
    for path in sorted((ROOT / "tests" / "scenarios").glob("*.yaml")):
        yield path.read_text()
    for path in sorted((ROOT / "operator" / "kubemedic").rglob("*.py")):
        yield path.read_text()
    for path in sorted((ROOT / "docs").glob("*.md")):
        yield path.read_text()


def train_tokenizer(directory: Path) -> Path:
    """Train the tokenizer and save it to ``directory`` (created); returns the directory."""
    # NB: imported here, after HF_HUB_OFFLINE is set above, whoever imports this first.
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers  # noqa: PLC0415

    tokenizer = Tokenizer(models.BPE(unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        special_tokens=["[UNK]", "<s>", "</s>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(_corpus(), trainer=trainer)
    directory.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(directory / "tokenizer.json"))
    return directory
