"""``kubemedic prompt``: exactly what would leave the cluster for the model."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from kubemedic.cli.bundle_commands import load_bundle
from kubemedic.cli.common import (
    EXIT_OK,
    UsageError,
    add_format_option,
    progress,
)
from kubemedic.domain.rule_engine import diagnose_bundle
from kubemedic.models.incident import IncidentSpec
from kubemedic.settings import OperatorSettings

# -- kubemedic prompt: what leaves the cluster ------------------------------------------


def load_incident_spec(path: Path) -> IncidentSpec:
    """An Incident manifest (or its bare ``spec``) from a file; UsageError names the field."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise UsageError(f"{path}: cannot read an Incident: {exc}") from None
    if isinstance(data, dict) and data.get("kind") == "Incident":
        data = data.get("spec")
        where = "spec."
    else:
        where = ""
    if not isinstance(data, dict):
        raise UsageError(f"{path}: an Incident (kind: Incident) or its spec must be a mapping")
    try:
        return IncidentSpec.model_validate(data)
    except ValidationError as exc:
        problems = [
            f"  {where}{'.'.join(str(p) for p in err['loc']) or '(top level)'}: {err['msg']}"
            for err in exc.errors()[:10]
        ]
        raise UsageError(f"{path}: invalid Incident spec:\n" + "\n".join(problems)) from None


def cmd_prompt(args: argparse.Namespace) -> int:
    """The messages the operator would send the model for a bundle, built by the operator's
    own function (:func:`kubemedic.service.llm_refiner.incident_prompt`)."""
    import dataclasses  # noqa: PLC0415

    from kubemedic.clients.tokenizer import TokenizerError, load_token_counter  # noqa: PLC0415
    from kubemedic.service import llm_refiner as llm  # noqa: PLC0415

    bundle = load_bundle(Path(args.bundle))
    spec = load_incident_spec(Path(args.incident)) if args.incident else None
    if args.max_tokens is not None and not 256 <= args.max_tokens <= 1_000_000:
        raise UsageError(f"--max-tokens: {args.max_tokens} is out of range (256 to 1000000)")
    try:
        settings = OperatorSettings()
    except ValidationError as exc:
        raise UsageError(f"settings (KUBEMEDIC_* environment): {exc}") from None
    budget = llm.budget_from_settings(settings)
    if args.max_tokens is not None:
        budget = dataclasses.replace(
            budget,
            total_tokens=args.max_tokens,
            knowledge_tokens=min(budget.knowledge_tokens, args.max_tokens // 2),
        )
    counter = llm.estimate_counter(llm.DEFAULT_CHARS_PER_TOKEN)
    if settings.llm_tokenizer:
        try:
            counter = load_token_counter(settings.llm_tokenizer)
        except TokenizerError as exc:
            progress(f"{exc}; estimating tokens instead")
    prompt = llm.incident_prompt(
        bundle,
        rules=diagnose_bundle(bundle),
        spec=spec,
        knowledge=(),
        counter=counter,
        redactor=llm.redactor_from_settings(settings),
        budget=budget,
    )
    if args.output == "json":
        messages = [{"role": m["role"], "content": m["content"]} for m in prompt.messages]
        print(json.dumps({"messages": messages, "total_tokens": prompt.total_tokens}, indent=2))
    else:
        for message in prompt.messages:
            print(f"=== {message['role']} ===\n{message['content']}\n")
        print(f"=== {prompt.total_tokens} tokens ===")
    return EXIT_OK


def add_prompt_command(sub: Any) -> None:
    prompt = sub.add_parser(
        "prompt",
        help="print the messages the operator would send the model for a bundle",
        description="Print exactly the chat messages the operator would send the model for "
        "a bundle (after scoping, budgeting and redaction), to audit what leaves the cluster. "
        "Uses the KUBEMEDIC_* settings of the environment; runbook knowledge is not included.",
    )
    prompt.add_argument(
        "--bundle", required=True, metavar="FILE", help="IncidentBundle file (YAML or JSON)"
    )
    prompt.add_argument(
        "--incident", metavar="FILE", help="Incident manifest (or its spec) the bundle is for"
    )
    prompt.add_argument(
        "--max-tokens",
        type=int,
        metavar="N",
        help="prompt token budget (default: KUBEMEDIC_LLM_PROMPT_TOKEN_BUDGET)",
    )
    add_format_option(prompt)
    prompt.set_defaults(func=cmd_prompt)
