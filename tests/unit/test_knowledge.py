"""We test these aspects of runbook knowledge (kubemedic.domain.knowledge):

- documents are read from raw ConfigMaps: one per data key, named ``<configmap>/<key>``,
  categories from the annotation, labels kept, empty keys skipped, sorted by name;
- BM25 ranking puts the document about the incident first, by declared category or by
  words alone (labels too), deterministically; an unrelated document is not relevant;
- the most relevant documents are appended to the runbook without an LLM, bounded;
  nothing is appended when nothing is relevant;
- CamelCase categories match their words (``OOMKilled`` → oom, killed).
"""

from __future__ import annotations

import pytest

from kubemedic.domain.knowledge import (
    RUNBOOK_HEADING,
    KnowledgeDoc,
    attach_knowledge,
    docs_from_configmaps,
    incident_query,
    rank_knowledge,
    tokenize,
)
from kubemedic.domain.rule_engine import diagnose_bundle
from kubemedic.models.diagnosis import Category, Diagnosis
from support.llm_bundles import (
    CRASH_SCENARIO,
    IMAGE_SCENARIO,
    KNOWLEDGE,
    OOM_SCENARIO,
    load_scenario,
)

ANNOTATION = "kubemedic.dev/categories"


def configmap(
    name: str, data: dict[str, str], categories: str = "", **labels: str
) -> dict[str, object]:
    metadata: dict[str, object] = {"name": name, "namespace": "kubemedic", "labels": labels}
    if categories:
        metadata["annotations"] = {ANNOTATION: categories}
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": data}


def test_documents_from_configmaps() -> None:
    docs = docs_from_configmaps(
        [
            configmap(
                "runbook-b", {"z.md": "# Z", "a.md": "# A", "empty.md": "  "}, "OOMKilled, Evicted"
            ),
            configmap("runbook-a", {"x.md": "# X"}, team="payments"),
            {"kind": "ConfigMap", "metadata": "garbage", "data": ["not", "a", "map"]},
        ],
        categories_annotation=ANNOTATION,
    )
    assert [d.name for d in docs] == ["runbook-a/x.md", "runbook-b/a.md", "runbook-b/z.md"]
    assert docs[1].categories == ("OOMKilled", "Evicted")
    assert docs[0].labels == (("team", "payments"),)
    assert docs[0].categories == ()


@pytest.mark.parametrize(
    ("scenario", "best"),
    [
        (OOM_SCENARIO, "runbook-memory/oom.md"),
        (IMAGE_SCENARIO, "runbook-images/registry.md"),
        (CRASH_SCENARIO, "runbook-crash/checkout.md"),
    ],
)
def test_ranking_puts_the_matching_runbook_first(scenario: str, best: str) -> None:
    rules = diagnose_bundle(load_scenario(scenario))
    ranked = rank_knowledge(KNOWLEDGE, category=rules.category, query=incident_query(rules))
    assert ranked[0].doc.name == best
    assert ranked[0].relevant
    again = rank_knowledge(
        tuple(reversed(KNOWLEDGE)), category=rules.category, query=incident_query(rules)
    )
    assert [r.doc.name for r in again] == [r.doc.name for r in ranked]


def test_words_alone_rank_without_a_declared_category() -> None:
    docs = (
        KnowledgeDoc(name="a.md", text="Our ledger database needs the pgbouncer pool raised."),
        KnowledgeDoc(name="b.md", text="Checkout promotions config map must not be empty."),
        KnowledgeDoc(name="c.md", text="Rotating TLS certificates for the ingress."),
    )
    query = tokenize("checkout crashes: promotions config is empty")
    ranked = rank_knowledge(docs, category=Category.CRASH_LOOP, query=query)
    assert ranked[0].doc.name == "b.md"
    assert ranked[0].relevant
    assert not next(r for r in ranked if r.doc.name == "c.md").relevant


def test_labels_count_as_words() -> None:
    docs = (
        KnowledgeDoc(name="a.md", text="generic advice", labels=(("app", "checkout"),)),
        KnowledgeDoc(name="b.md", text="generic advice"),
    )
    ranked = rank_knowledge(docs, category=Category.CRASH_LOOP, query=tokenize("checkout"))
    assert ranked[0].doc.name == "a.md"


def test_camel_case_is_split() -> None:
    assert {"oomkilled", "oom", "killed"} <= set(tokenize("OOMKilled"))
    assert {"hpamaxedout", "hpa", "maxed", "out"} <= set(tokenize("HPAMaxedOut"))


def _diagnosis(category: Category) -> Diagnosis:
    return Diagnosis(category=category, summary="s", confidence=0.9, runbook="# Rules runbook\n")


def test_relevant_knowledge_is_appended_to_the_runbook() -> None:
    rules = _diagnosis(Category.OOM_KILLED)
    ranked = rank_knowledge(KNOWLEDGE, category=rules.category, query=incident_query(rules))
    result = attach_knowledge(rules, ranked, limit=1)
    assert result.runbook.startswith("# Rules runbook")
    assert RUNBOOK_HEADING in result.runbook
    assert "MaxRAMPercentage" in result.runbook
    assert "regcred" not in result.runbook
    assert result.category is rules.category


def test_long_documents_are_cut_and_irrelevant_ones_skipped() -> None:
    rules = _diagnosis(Category.QUOTA_EXCEEDED)
    ranked = rank_knowledge(KNOWLEDGE, category=rules.category, query=["quota"])
    assert attach_knowledge(rules, ranked) == rules
    long_doc = KnowledgeDoc(name="q.md", text="quota " * 5000, categories=("QuotaExceeded",))
    ranked = rank_knowledge((long_doc,), category=rules.category, query=["quota"])
    result = attach_knowledge(rules, ranked, max_chars=1000)
    assert len(result.runbook) < len(rules.runbook) + 1200
    assert result.runbook.rstrip().endswith("…")
