"""A small byte-level BPE tokenizer, trained here with the ``tokenizers`` library.

No model weights or tokenizer files can be downloaded in tests, so the tests (and the
benchmark) train one on Kubernetes-flavoured text and save it the way ``save_pretrained``
does; ``transformers.AutoTokenizer`` then loads it from that directory like a real model's.
Byte-level BPE never fails on unseen text, and its token counts are in the range of real
models' (a few characters per token), so budgets behave realistically.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

# NB: never reach the Hugging Face Hub from tests; set before transformers is imported.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

VOCAB_SIZE = 3000

_CORPUS = [
    "apiVersion: apps/v1 kind: Deployment metadata: name: web namespace: shop labels app",
    "status: containerStatuses: lastState: terminated: reason: OOMKilled exitCode: 137",
    "state: waiting: reason: CrashLoopBackOff message: back-off 5m0s restarting failed",
    "Warning BackOff kubelet Back-off restarting failed container app in pod web-7d9f",
    "Warning FailedScheduling default-scheduler 0/3 nodes are available: Insufficient memory",
    "Normal Pulled Successfully pulled image registry.example.com/shop/web:1.4.2",
    "ERROR 2025-03-14T10:29:58Z connection refused while connecting to postgres:5432",
    "panic: runtime error: invalid memory address or nil pointer dereference",
    "Traceback (most recent call last): File app.py line 42 in main raise RuntimeError",
    "INFO request served path=/api/cart status=200 duration_ms=12 user=anonymous",
    "java.lang.OutOfMemoryError: Java heap space at com.example.Cache.put",
    'You are kubemedic, a Kubernetes site reliability engineer. {"type":"object"}',
    "category summary rootCause confidence evidence actions runbook kubectl describe pod",
    "RestartRollout RollbackRollout ScaleWorkload SetResources DeletePod CordonNode PatchHPA",
    "memoryLimit memoryRequest cpuLimit cpuRequest replicas maxReplicas toRevision Escalate",
    "node-1 node-2 ip-10-0-1-23.eu-west-1.compute.internal Ready NotReady KubeletNotReady",
]


def _corpus() -> Iterator[str]:
    for round_ in range(20):
        for line in _CORPUS:
            yield f"{line} {round_}"


def train_tokenizer(directory: Path) -> Path:
    """Train the tokenizer and save it to ``directory`` (created); returns the directory."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

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
    PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, bos_token="<s>", eos_token="</s>", unk_token="[UNK]"
    ).save_pretrained(str(directory))
    return directory
