"""The online scoring service: the champion behind MLflow's scoring protocol, following the
`champion` alias, with Prometheus metrics and a request log that is a scoring source.

`python -m mlops_assets.serving` (or `make serve`) starts it. Never imported by
`mlops_assets.definitions`: fastapi, uvicorn and prometheus_client stay out of the code location.
"""
