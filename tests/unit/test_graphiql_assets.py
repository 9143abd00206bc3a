"""GraphiQL's files: fetched from the registry only when they match the page's hashes."""

from __future__ import annotations

import base64
import hashlib
import io
import tarfile
from pathlib import Path

import pytest

from api.graphiql import fetch, local_page, page_assets


def _sri(content: bytes) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(content).digest()).decode()


SCRIPT = b"console.log('graphiql');"
STYLE = b"body { margin: 0 }"
PAGE = f"""<link rel="stylesheet" href="https://unpkg.com/@scope/ui@1.0.2/dist/style.css"
      integrity="{_sri(STYLE)}" />
<script crossorigin src="https://unpkg.com/tool@3.8.3/tool.min.js"
      integrity="{_sri(SCRIPT)}"></script>"""


def _registry(root: Path, files: dict[tuple[str, str], dict[str, bytes]]) -> str:
    """A registry folder laid out as registry.npmjs.org's tarball addresses."""
    for (package, version), contents in files.items():
        name = package.rsplit("/", 1)[-1]
        folder = root / package / "-"
        folder.mkdir(parents=True, exist_ok=True)
        with tarfile.open(folder / f"{name}-{version}.tgz", "w:gz") as archive:
            for path, content in contents.items():
                info = tarfile.TarInfo(f"package/{path}")
                info.size = len(content)
                archive.addfile(info, io.BytesIO(content))
    return root.as_uri()


def test_the_page_names_its_assets_with_their_hashes():
    assets = page_assets(PAGE)
    assert [(a.package, a.version, a.path) for a in assets] == [
        ("@scope/ui", "1.0.2", "dist/style.css"),
        ("tool", "3.8.3", "tool.min.js"),
    ]


def test_fetched_files_make_the_page_local(tmp_path: Path):
    registry = _registry(
        tmp_path / "registry",
        {("@scope/ui", "1.0.2"): {"dist/style.css": STYLE}, ("tool", "3.8.3"): {"tool.min.js": SCRIPT}},
    )
    served = tmp_path / "served"
    assert local_page(PAGE, served) is None
    assert len(fetch(PAGE, served, registry)) == 2
    assert (served / "tool@3.8.3/tool.min.js").read_bytes() == SCRIPT
    page = local_page(PAGE, served)
    assert page is not None and "unpkg.com" not in page
    assert 'src="graphiql/tool@3.8.3/tool.min.js"' in page and _sri(SCRIPT) in page
    assert fetch(PAGE, served, registry) == []  # nothing left to fetch


def test_a_file_that_does_not_match_its_hash_is_refused(tmp_path: Path):
    registry = _registry(
        tmp_path / "registry",
        {("@scope/ui", "1.0.2"): {"dist/style.css": STYLE}, ("tool", "3.8.3"): {"tool.min.js": b"tampered"}},
    )
    served = tmp_path / "served"
    with pytest.raises(ValueError, match="integrity"):
        fetch(PAGE, served, registry)
    assert not (served / "tool@3.8.3/tool.min.js").exists()
    assert local_page(PAGE, served) is None
