from api.schema import export_sdl
from tests.conftest import REPO_ROOT


def test_schema_graphql_matches_the_code():
    exported = (REPO_ROOT / "schema.graphql").read_text()
    assert exported == export_sdl(), "schema.graphql is stale: run `python -m api.export_schema`"
