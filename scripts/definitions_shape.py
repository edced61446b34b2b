"""Print the code location's shape as JSON: each asset's group, parents, resource keys, op,
checks, kinds, owners, description, retry policy and config fields; each job's tags, resources
and nodes; sensors, schedules and resource keys. Run before and after a refactoring that must
leave the default model's definitions unchanged, and diff the two:

    .venv/bin/python scripts/definitions_shape.py > before.json
"""

import json
import sys

from mlops_assets.definitions import defs


def _config_fields(asset) -> list[str]:
    schema = asset.op.config_schema
    config_type = schema.as_field().config_type if schema else None
    return sorted(getattr(config_type, "fields", {}) or {})


def shape() -> dict[str, object]:
    graph = defs.resolve_asset_graph()
    out: dict[str, object] = {}
    for key in sorted(graph.get_all_asset_keys(), key=str):
        asset, node = defs.get_assets_def(key), graph.get(key)
        spec = asset.specs_by_key[key]
        out[f"asset {key.to_user_string()}"] = {
            "group": node.group_name,
            "parents": sorted(p.to_user_string() for p in node.parent_keys),
            "resources": sorted(asset.required_resource_keys),
            "op": asset.op.name,
            "checks": sorted(c.to_user_string() for c in asset.check_keys),
            "partitioned": node.partitions_def is not None,
            "kinds": sorted(spec.kinds),
            "owners": list(spec.owners),
            "description": spec.description,
            "retry": repr(asset.op.retry_policy),
            "config": _config_fields(asset),
        }
    for job in sorted(defs.resolve_all_job_defs(), key=lambda j: j.name):
        out[f"job {job.name}"] = {
            "tags": job.tags,
            "resources": sorted(job.resource_defs),
            "nodes": sorted(n.name for n in job.nodes),
        }
    for sensor in defs.sensors or []:
        jobs = sensor.jobs if sensor.has_jobs else []
        out[f"sensor {sensor.name}"] = sorted(job.name for job in jobs)
    for schedule in defs.schedules or []:
        out[f"schedule {schedule.name}"] = schedule.cron_schedule
    out["resources"] = sorted(defs.resources or {})
    return out


if __name__ == "__main__":
    json.dump(shape(), sys.stdout, indent=1, sort_keys=True, default=str)
