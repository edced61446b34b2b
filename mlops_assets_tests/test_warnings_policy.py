"""pyproject.toml's warnings policy: a warning raised from mlops_assets fails the test that
meets it; third-party warnings and the tests' own are only shown."""

import warnings

import pytest


def _warn_from(module: str, message: str) -> None:
    # What `warnings.warn` does from a line of `module` (numpy's RuntimeWarnings, Dagster's
    # BetaWarning at our call site): the filters match the warning's module name.
    path = module.replace(".", "/") + ".py"
    warnings.warn_explicit(message, RuntimeWarning, path, 1, module=module)


@pytest.mark.parametrize(
    "module", ["mlops_assets", "mlops_assets.domain.estimation.calibration", "mlops_assets.assets"]
)
def test_a_warning_raised_from_our_package_is_an_error(module):
    with pytest.raises(RuntimeWarning, match="overflow"):
        _warn_from(module, "overflow encountered in exp")


@pytest.mark.parametrize("module", ["dagster._core.definitions", "mlops_assets_tests.helpers"])
def test_a_warning_from_elsewhere_is_shown_not_raised(module):
    with warnings.catch_warnings(record=True) as seen:  # keeps the configured filters
        _warn_from(module, "shown only")
    assert [str(w.message) for w in seen] == ["shown only"]
