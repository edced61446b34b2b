"""What the code location imports when it loads: the webserver, the daemon and every run pay it
(bench/bench_load.py measures the time)."""

import subprocess
import sys

HEAVY = ("pandas", "numpy", "pyarrow", "scipy", "sklearn", "mlflow", "evidently", "skops")


def test_the_code_location_loads_without_pandas_numpy_pyarrow_or_the_ml_libraries():
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, mlops_assets.definitions as d; d.defs.resolve_asset_graph(); "
            f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert loaded.stdout.strip() == "[]"
