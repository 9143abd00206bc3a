"""GraphiQL served from this server, not from a CDN.

Strawberry's GraphiQL page loads React, GraphiQL and its plugins from unpkg.com. On a
machine that cannot reach it (a locked-down network, an air-gapped staging box) the page
stays at "Loading...", and where it can, the page that holds a pasted API key runs
third-party scripts. So set-up fetches the very files the page names, from the npm
registry (the packages unpkg serves them from), checks each against the page's own
subresource-integrity hash, and keeps them under the environment's `share/` folder; the
page is then rewritten to load them from `/graphiql/`. Browsers check the same hashes
again on load. Without the files (set-up offline), the page keeps its CDN addresses.

    python -m api.graphiql     # fetch the files (scripts/setup does this)
"""

from __future__ import annotations

import base64
import hashlib
import io
import re
import sys
import tarfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from strawberry.http.ides import get_graphql_ide_html

MOUNT = "/graphiql"
REGISTRY = "https://registry.npmjs.org"
_CDN_ASSET = re.compile(
    r'(?:src|href)="(https://unpkg\.com/((?:@[\w.-]+/)?[\w.-]+)@([\w.-]+)/([^"]+))"\s+integrity="(sha384-[^"]+)"'
)


@dataclass(frozen=True)
class Asset:
    url: str
    package: str
    version: str
    path: str
    integrity: str

    @property
    def local_path(self) -> str:
        return f"{self.package}@{self.version}/{self.path}"

    def matches(self, content: bytes) -> bool:
        return self.integrity == "sha384-" + base64.b64encode(hashlib.sha384(content).digest()).decode()


def assets_dir() -> Path:
    """Inside the environment the service runs in, beside its other installed data."""
    return Path(sys.prefix) / "share" / "loyalty" / "graphiql"


def page_assets(html: str) -> list[Asset]:
    return [Asset(*match.groups()) for match in _CDN_ASSET.finditer(html)]


def local_page(html: str, directory: Path) -> str | None:
    """The page loading every asset from MOUNT, or None when any file is missing.

    The addresses are relative (`graphiql/...`), resolved against the page's own
    (`.../graphql`): behind a proxy that serves the service under a path prefix
    (`loyalty serve --root-path /loyalty`), an absolute `/graphiql/...` would miss it."""
    assets = page_assets(html)
    if not assets or not all((directory / asset.local_path).is_file() for asset in assets):
        return None
    for asset in assets:
        html = html.replace(asset.url, f"{MOUNT.lstrip('/')}/{asset.local_path}")
    return html


def fetch(html: str, directory: Path, registry: str = REGISTRY) -> list[Asset]:
    """Downloads the page's assets that are missing; returns those it wrote. Raises
    ValueError when a file does not match the page's integrity hash."""
    written = []
    tarballs: dict[tuple[str, str], bytes] = {}
    for asset in page_assets(html):
        target = directory / asset.local_path
        if target.is_file():
            continue
        key = (asset.package, asset.version)
        if key not in tarballs:
            name = asset.package.rsplit("/", 1)[-1]
            with urllib.request.urlopen(f"{registry}/{asset.package}/-/{name}-{asset.version}.tgz", timeout=60) as r:
                tarballs[key] = r.read()
        with tarfile.open(fileobj=io.BytesIO(tarballs[key]), mode="r:gz") as archive:
            member = archive.extractfile(f"package/{asset.path}")
            if member is None:
                raise ValueError(f"{asset.package}@{asset.version} has no {asset.path}")
            content = member.read()
        if not asset.matches(content):
            raise ValueError(f"{asset.local_path} does not match the integrity hash the page names")
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(target.suffix + ".part")
        partial.write_bytes(content)
        partial.replace(target)
        written.append(asset)
    return written


def main() -> int:
    html = get_graphql_ide_html("graphiql")
    directory = assets_dir()
    try:
        written = fetch(html, directory)
    except (OSError, ValueError) as error:
        print(f"GraphiQL's files were not fetched ({error}); its page will load them from unpkg.com", file=sys.stderr)
        return 1
    if written:
        print(f"GraphiQL: {len(written)} files in {directory}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
