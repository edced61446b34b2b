"""The model component: one YAML file (`defs.yaml`, written by
`dg scaffold defs mlops_assets.components.MlopsModel <name>`) declares a model, its sources and
its policy. Registered for `dg list components` through [tool.dg.project] registry_modules."""

from mlops_assets.components.model import MlopsModel

__all__ = ["MlopsModel"]
