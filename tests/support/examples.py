"""The example SLOs of manifests/examples, moved into a namespace of a test's choosing."""

from __future__ import annotations

from typing import Any

import yaml

from support.processes import REPO

EXAMPLES = REPO / "manifests" / "examples"


def example_documents(namespace: str) -> list[dict[str, Any]]:
    documents = []
    for path in sorted(EXAMPLES.glob("*.yaml")):
        document = yaml.safe_load(path.read_text())
        document["metadata"]["namespace"] = namespace
        documents.append(document)
    return documents
