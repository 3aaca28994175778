"""Write the IncidentBundle JSON Schema, ``schemas/incidentbundle.schema.json``.

The schema is generated from the pydantic model (``IncidentBundle``), never edited by hand;
the generated file is committed so that people and tools outside Python can validate bundle
files. Output is deterministic (sorted keys, two-space indent, trailing newline), so
``--check`` can compare bytes and fail CI when the model changed but the file did not.

Usage::

    python hack/gen_bundle_schema.py            # (re)write the file
    python hack/gen_bundle_schema.py --check    # exit 1 if the file is out of date
"""

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# NB: operator/ is not a package (it must not shadow the stdlib `operator`); make the
# `kubemedic` package importable when this runs as a plain script.
if str(ROOT / "operator") not in sys.path:
    sys.path.insert(0, str(ROOT / "operator"))

from kubemedic.constants import API_GROUP, API_VERSION  # noqa: E402
from kubemedic.models.bundle import IncidentBundle  # noqa: E402

SCHEMA_PATH = ROOT / "schemas" / "incidentbundle.schema.json"
SCHEMA_ID = f"https://{API_GROUP}/schemas/{API_VERSION}/incidentbundle.schema.json"
SCHEMA_DESCRIPTION = (
    "The evidence gathered for one Kubernetes incident: the target, alerts, the related "
    "objects as the API returned them, container logs and Prometheus query results. "
    "`kubemedic diagnose --bundle FILE` reproduces a diagnosis from such a file. "
    "Generated from the IncidentBundle model by hack/gen_bundle_schema.py; do not edit."
)


def build_schema() -> dict[str, Any]:
    """The JSON Schema of an IncidentBundle file, with its ``$id``, title and description."""
    schema = IncidentBundle.model_json_schema(by_alias=True)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        **schema,
        "title": "IncidentBundle",
        "description": SCHEMA_DESCRIPTION,
    }


def render_schema() -> str:
    """The exact text of the schema file."""
    return json.dumps(build_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write the schema file, or with ``--check`` report whether it is up to date."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--check", action="store_true", help="do not write; exit 1 if the file is out of date"
    )
    parser.add_argument("--output", type=Path, default=SCHEMA_PATH, help="the schema file")
    args = parser.parse_args(argv)
    output: Path = args.output
    expected = render_schema()
    if args.check:
        actual = output.read_text(encoding="utf-8") if output.exists() else None
        if actual != expected:
            sys.stderr.write(
                f"{output} is out of date with the IncidentBundle model; "
                "run `python hack/gen_bundle_schema.py` and commit the result\n"
            )
            return 1
        return 0
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(expected, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
