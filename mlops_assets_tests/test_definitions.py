"""Code references: every asset links to the code that defines it, locally by default and on the
git host when MLOPS_GIT_URL is set."""

from pathlib import Path

import dagster as dg

from mlops_assets.definitions import ASSETS, defs, with_code_references
from mlops_assets.settings import Settings

REPO = Path(__file__).resolve().parents[1]


def _references(asset: dg.AssetsDefinition, key: dg.AssetKey | None = None) -> list:
    """The code references of `key` (the only asset of `asset` when None)."""
    if key is None:
        (spec,) = asset.specs
    else:
        (spec,) = (s for s in asset.specs if s.key == key)
    return spec.metadata["dagster/code_references"].code_references


def test_every_asset_of_the_definitions_points_at_the_line_that_defines_it():
    # The daily monitoring assets share one multi-asset: each points at its own day function.
    for key in defs.resolve_all_asset_keys():
        (reference,) = _references(defs.get_assets_def(key), key)
        assert isinstance(reference, dg.LocalFileCodeReference), key
        source = Path(reference.file_path)
        assert source.is_relative_to(REPO / "mlops_assets"), reference
        # The decorator's line, or the def's under a multi-line decorator.
        lines = source.read_text().splitlines()[reference.line_number - 1 :]
        definition = next(line for line in lines if line.startswith("def "))
        assert definition.startswith(f"def {key.to_user_string()}("), (key, reference)


def test_a_git_url_turns_the_references_into_links_at_the_branch():
    local = with_code_references(ASSETS, Settings.from_env({}))
    linked = with_code_references(
        ASSETS,
        Settings.from_env(
            {"MLOPS_GIT_URL": "https://github.com/acme/mlops-assets", "MLOPS_GIT_BRANCH": "v2"}
        ),
    )
    for before, after in zip(local, linked, strict=True):
        for spec in before.specs:
            (file_reference,) = _references(before, spec.key)
            (url_reference,) = _references(after, spec.key)
            path = Path(file_reference.file_path).relative_to(REPO).as_posix()
            assert url_reference.url == (
                f"https://github.com/acme/mlops-assets/tree/v2/{path}#L{file_reference.line_number}"
            )


def test_the_branch_defaults_to_main():
    (linked, *_) = with_code_references(
        ASSETS, Settings.from_env({"MLOPS_GIT_URL": "https://gitlab.com/acme/m"})
    )
    (reference,) = _references(linked)
    assert reference.url.startswith("https://gitlab.com/acme/m/-/tree/main/mlops_assets/")


# The lifecycle's order, which the UI's lineage lays out left to right (dependencies first).
LIFECYCLE = ("data", "training", "monitoring")


def test_every_dependency_points_forward_in_the_lifecycle_so_the_lineage_reads_left_to_right():
    # The UI draws each group as a box (collapsed when there are several) and lays them out
    # by their edges: one edge from monitoring back into data put monitoring first.
    graph = defs.resolve_asset_graph()
    groups = {key: graph.get(key).group_name for key in graph.get_all_asset_keys()}
    assert set(groups.values()) == set(LIFECYCLE)
    backward = [
        f"{parent.to_user_string()} ({groups[parent]}) -> {key.to_user_string()} ({groups[key]})"
        for key in groups
        for parent in graph.get(key).parent_keys
        if LIFECYCLE.index(groups[parent]) > LIFECYCLE.index(groups[key])
    ]
    assert backward == []
    # Scoring depends on the champion that registration promotes: training -> monitoring.
    assert (
        dg.AssetKey("registered_model_version")
        in graph.get(dg.AssetKey("batch_predictions")).parent_keys
    )
