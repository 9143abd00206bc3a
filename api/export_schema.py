"""`python -m api.export_schema` rewrites schema.graphql from the code."""

from pathlib import Path

from api.schema import export_sdl

if __name__ == "__main__":
    Path(__file__).resolve().parent.parent.joinpath("schema.graphql").write_text(export_sdl())
