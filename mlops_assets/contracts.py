"""Names that cross module boundaries, in one place: registry aliases, MLflow tag names,
artefact paths, run tags and the metadata that one asset writes and another (or a sensor)
reads. Dagster-free and import-cheap: the webserver, the daemon and every run load it.

A name defined here is the only definition; modules import it rather than repeat the string.
"""

from __future__ import annotations

# --- Registry: aliases, model-version tags, run artefacts -----------------------------------

# --- Monitoring: drift verdict, run tags, metadata keys -------------------------------------
