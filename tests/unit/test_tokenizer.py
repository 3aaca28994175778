"""The token counter: the model's tokenizer.json through `tokenizers`, transformers optional.

The tokenizer is trained here (tests/support/tokenizer.py); no file is downloaded.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from tokenizers import Tokenizer

from kubemedic.clients.tokenizer import TokenizerError, load_token_counter
from support.tokenizer import train_tokenizer

TEXT = "Back-off restarting failed container app in pod web-7d9f (OOMKilled, exit code 137)"


@pytest.fixture(scope="module")
def tokenizer_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return train_tokenizer(tmp_path_factory.mktemp("tokenizer"))


def test_counts_the_tokens_of_the_models_tokenizer(tokenizer_dir: Path) -> None:
    reference = Tokenizer.from_file(str(tokenizer_dir / "tokenizer.json"))
    expected = len(reference.encode(TEXT, add_special_tokens=False).ids)
    assert expected > 5
    assert load_token_counter(str(tokenizer_dir))(TEXT) == expected
    # the file itself works as well as its directory
    assert load_token_counter(str(tokenizer_dir / "tokenizer.json"))(TEXT) == expected
    assert load_token_counter(str(tokenizer_dir))("") == 0


def test_a_truncation_saved_with_the_tokenizer_does_not_cap_counts(
    tokenizer_dir: Path, tmp_path: Path
) -> None:
    data = json.loads((tokenizer_dir / "tokenizer.json").read_text())
    data["truncation"] = {
        "direction": "Right",
        "max_length": 4,
        "strategy": "LongestFirst",
        "stride": 0,
    }
    (tmp_path / "tokenizer.json").write_text(json.dumps(data))
    assert load_token_counter(str(tmp_path))(TEXT) == load_token_counter(str(tokenizer_dir))(TEXT)
    assert load_token_counter(str(tmp_path))(TEXT) > 4


def test_a_missing_tokenizer_names_the_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(TokenizerError, match="KUBEMEDIC_LLM_TOKENIZER='no-such/model'"):
        load_token_counter("no-such/model")
    broken = tmp_path / "tokenizer.json"
    broken.write_text("{not json")
    with pytest.raises(TokenizerError, match="cannot be loaded"):
        load_token_counter(str(tmp_path))


def test_without_tokenizer_json_transformers_is_needed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "tokenizer.model").write_bytes(b"sentencepiece")
    monkeypatch.setitem(sys.modules, "transformers", None)  # not installed
    with pytest.raises(TokenizerError, match=r"no tokenizer\.json.*kubemedic\[transformers\]"):
        load_token_counter(str(tmp_path))
