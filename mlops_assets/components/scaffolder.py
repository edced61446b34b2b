"""What `dg scaffold defs mlops_assets.components.MlopsModel <name>` writes: a defs.yaml
declaring the model named after its folder, with every section present so that a newcomer
sees what can be set; values left at their defaults are the ones `MlopsModel` documents."""

from __future__ import annotations

import dagster as dg
from dagster.components.scaffold.scaffold import NoParams


class MlopsModelScaffolder(dg.Scaffolder[NoParams]):
    def scaffold(self, request: dg.ScaffoldRequest[NoParams]) -> None:
        name = request.target_path.name.replace("-", "_").lower()
        dg.scaffold_component(
            request,
            {
                "name": name,
                "training": {
                    "location": f"data/{name}/training.csv",
                    "target": "target",
                    "id_columns": [],
                    "exclude_columns": [],
                },
                "scoring": {"location": f"data/{name}/scoring", "date_column": ""},
                "labels": {"location": "", "delay_days": 0},
                "gate": {"min_improvement": 0.0, "slice_tolerance": 0.02},
                "retraining": {"debounce_days": 2, "cooldown_days": 3, "window_days": 7},
                "schedule": {"cron": "30 2 * * *", "enabled": False},
                "serve": {"log_dir": "", "mode": "champion"},
                "drift_sensor": False,
            },
        )
