"""Runbook knowledge: the team's own runbooks, ranked for an incident with BM25.

Runbooks are markdown documents kept in ConfigMaps labelled ``kubemedic.dev/runbook=true``
in the operator's namespace (read by :mod:`kubemedic.clients.knowledge`); every data key is
one document, the annotation ``kubemedic.dev/categories`` lists the diagnosis categories it
is about (comma-separated), and the ConfigMap's labels are matched too.

Ranking (:func:`rank_knowledge`) is Okapi BM25 (``rank_bm25``) over the document's name,
categories, labels and text, queried with the incident's category, summary, evidence and
alert names, plus a fixed boost for a document that declares the incident's category: the
author said so, which beats word statistics. Ties break by name, so the order is
deterministic. A document is *relevant* when it declares the category or shares at least
one word with the query.

The ranked documents are used twice:

- in the LLM prompt's static prefix (:mod:`kubemedic.domain.prompt`), and
- in the Incident's runbook, even without an LLM (:func:`attach_knowledge`): the most
  relevant documents are appended under "Runbooks from your team".
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from rank_bm25 import BM25Okapi

from kubemedic.models.diagnosis import Category, Diagnosis

#: Added to the BM25 score of a document that declares the incident's category.
CATEGORY_BOOST: Final = 10.0
#: Documents appended to the Incident's runbook, and the characters kept of each.
RUNBOOK_DOCUMENTS: Final = 2
RUNBOOK_DOCUMENT_CHARS: Final = 8000
#: Longest document text kept when reading a ConfigMap.
MAX_DOCUMENT_CHARS: Final = 64 * 1024
RUNBOOK_HEADING: Final = "## Runbooks from your team"

_WORD_RE: Final = re.compile(r"[A-Za-z0-9]+")
_CAMEL_RE: Final = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")
_STOPWORDS: Final = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "for",
        "from",
        "has",
        "have",
        "if",
        "in",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "the",
        "this",
        "to",
        "was",
        "were",
        "will",
        "with",
    ]
)


@dataclasses.dataclass(frozen=True)
class KnowledgeDoc:
    """One runbook document."""

    name: str
    text: str
    categories: tuple[str, ...] = ()
    labels: tuple[tuple[str, str], ...] = ()

    def declares(self, category: Category) -> bool:
        return category.value.lower() in {c.lower() for c in self.categories}


@dataclasses.dataclass(frozen=True)
class RankedDoc:
    """A document with its relevance for one incident."""

    doc: KnowledgeDoc
    score: float
    relevant: bool


def tokenize(text: str) -> list[str]:
    """Lower-case words, with CamelCase split too (``OOMKilled`` → oomkilled, oom, killed)."""
    tokens: list[str] = []
    for word in _WORD_RE.findall(text):
        lowered = word.lower()
        if lowered not in _STOPWORDS and len(lowered) > 1:
            tokens.append(lowered)
        parts = [p.lower() for p in _CAMEL_RE.findall(word)]
        if len(parts) > 1:
            tokens.extend(p for p in parts if len(p) > 1 and p not in _STOPWORDS)
    return tokens


def document_tokens(doc: KnowledgeDoc) -> list[str]:
    label_text = " ".join(f"{k} {v}" for k, v in doc.labels)
    return tokenize(f"{doc.name} {' '.join(doc.categories)} {label_text} {doc.text}")


def incident_query(diagnosis: Diagnosis, *, extra: Iterable[str] = ()) -> list[str]:
    """The words an incident is about: category, summary, evidence, and ``extra``
    (alert names, target kind and labels)."""
    parts = [diagnosis.category.value, diagnosis.summary, *diagnosis.evidence, *extra]
    return tokenize(" ".join(parts))


def rank_knowledge(
    docs: Sequence[KnowledgeDoc], *, category: Category, query: Sequence[str]
) -> list[RankedDoc]:
    """Every document, most relevant first (ties by name): BM25 plus the category boost."""
    if not docs:
        return []
    corpus = [document_tokens(doc) or ["_"] for doc in docs]
    scores = BM25Okapi(corpus).get_scores(list(query)) if query else [0.0] * len(docs)
    query_words = set(query)
    ranked = []
    for doc, words, score in zip(docs, corpus, scores, strict=True):
        declared = doc.declares(category)
        total = float(score) + (CATEGORY_BOOST if declared else 0.0)
        relevant = declared or (category is not Category.UNKNOWN and bool(query_words & set(words)))
        ranked.append(RankedDoc(doc=doc, score=round(total, 6), relevant=relevant))
    return sorted(ranked, key=lambda r: (not r.relevant, -r.score, r.doc.name))


def attach_knowledge(
    diagnosis: Diagnosis,
    ranked: Sequence[RankedDoc],
    *,
    limit: int = RUNBOOK_DOCUMENTS,
    max_chars: int = RUNBOOK_DOCUMENT_CHARS,
) -> Diagnosis:
    """The diagnosis with the most relevant runbook documents appended to its runbook."""
    chosen = [r.doc for r in ranked if r.relevant][:limit]
    if not chosen:
        return diagnosis
    sections = [RUNBOOK_HEADING, ""]
    for doc in chosen:
        text = doc.text.strip()
        if len(text) > max_chars:
            text = text[: max_chars - 1] + "…"
        about = f" (about {', '.join(doc.categories)})" if doc.categories else ""
        sections += [f"### {doc.name}{about}", "", text, ""]
    runbook = diagnosis.runbook.rstrip()
    combined = (runbook + "\n\n" if runbook else "") + "\n".join(sections).rstrip() + "\n"
    return diagnosis.model_copy(update={"runbook": combined})


def docs_from_configmaps(
    configmaps: Iterable[Mapping[str, Any]], *, categories_annotation: str
) -> list[KnowledgeDoc]:
    """Documents from raw ConfigMaps: one per data key, named ``<configmap>/<key>``.

    The categories annotation is split on commas and whitespace; unknown words are kept (a
    document may name a category a newer kubemedic knows).
    """
    docs: list[KnowledgeDoc] = []
    for cm in configmaps:
        metadata = cm.get("metadata")
        metadata = metadata if isinstance(metadata, Mapping) else {}
        name = str(metadata.get("name", ""))
        annotations = metadata.get("annotations")
        annotations = annotations if isinstance(annotations, Mapping) else {}
        raw_categories = str(annotations.get(categories_annotation, ""))
        categories = tuple(c for c in re.split(r"[,\s]+", raw_categories) if c)
        raw_labels = metadata.get("labels")
        labels = tuple(
            sorted(
                (str(k), str(v))
                for k, v in (raw_labels.items() if isinstance(raw_labels, Mapping) else ())
            )
        )
        data = cm.get("data")
        for key, value in sorted((data if isinstance(data, Mapping) else {}).items()):
            if isinstance(value, str) and value.strip():
                docs.append(
                    KnowledgeDoc(
                        name=f"{name}/{key}",
                        text=value[:MAX_DOCUMENT_CHARS],
                        categories=categories,
                        labels=labels,
                    )
                )
    return sorted(docs, key=lambda d: d.name)


__all__ = [
    "CATEGORY_BOOST",
    "RUNBOOK_HEADING",
    "KnowledgeDoc",
    "RankedDoc",
    "attach_knowledge",
    "docs_from_configmaps",
    "incident_query",
    "rank_knowledge",
    "tokenize",
]
