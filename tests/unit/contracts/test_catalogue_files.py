"""The catalogue loader's digest and its reading of each file."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from contracts.catalogue import CatalogueError, load_catalogue

CATALOGUE = """\
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: {name: service-delivery}
spec: {type: service-delivery}
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata: {name: payments-api}
spec: {owner: service-delivery}
"""


def test_digest_is_the_sha256_of_the_files_in_name_order(tmp_path: Path) -> None:
    first, second = CATALOGUE.encode(), b"# nothing but a comment\n"
    (tmp_path / "a.yaml").write_bytes(first)
    (tmp_path / "b.yml").write_bytes(second)
    catalogue = load_catalogue(tmp_path)
    assert catalogue.digest == hashlib.sha256(first + second).hexdigest()
    assert set(catalogue.components) == {"payments-api"}


def test_digest_changes_with_the_content(tmp_path: Path) -> None:
    file = tmp_path / "catalog-info.yaml"
    file.write_text(CATALOGUE, encoding="utf-8")
    before = load_catalogue(file).digest
    file.write_text(CATALOGUE.replace("payments-api", "billing-api"), encoding="utf-8")
    after = load_catalogue(file)
    assert after.digest != before
    assert set(after.components) == {"billing-api"}


def test_a_file_that_is_not_utf8_is_refused_as_unreadable(tmp_path: Path) -> None:
    (tmp_path / "ok.yaml").write_text(CATALOGUE, encoding="utf-8")
    (tmp_path / "latin.yaml").write_bytes("# caf\u00e9\n".encode("latin-1"))
    with pytest.raises(CatalogueError) as info:
        load_catalogue(tmp_path)
    [issue] = info.value.issues
    assert issue.file.endswith("latin.yaml")
    assert issue.message.startswith("cannot read:")
