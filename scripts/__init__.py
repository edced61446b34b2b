"""Developer scripts; `scripts.stack` is imported by the deployment test."""
