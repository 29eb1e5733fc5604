"""Run DataHub's Hex source (acryl-datahub[hex]) on a recipe, for euno-bench.

Usage: python run_hex_source.py RECIPE.json [--no-throttle]

As shipped, the source throttles itself to 57 requests a minute (`_RateLimiter` in
`datahub/ingestion/source/hex/api.py`, applied to every request of its session). With
`--no-throttle` that limiter's `acquire` becomes a no-op before the pipeline is built, so the
source runs as fast as it can; nothing else is changed. Prints one JSON line with the source's
own counts.
"""

import json
import sys


def main() -> int:
    recipe_path = sys.argv[1]
    if "--no-throttle" in sys.argv[2:]:
        from datahub.ingestion.source.hex import api

        api._RateLimiter.acquire = lambda self: None

    from datahub.ingestion.run.pipeline import Pipeline

    with open(recipe_path, encoding="utf-8") as recipe_file:
        recipe = json.load(recipe_file)
    pipeline = Pipeline.create(recipe)
    pipeline.run()
    report = pipeline.source.get_report()
    print(
        json.dumps(
            {
                "workunits": report.events_produced,
                "failures": len(report.failures),
                "warnings": len(report.warnings),
                "api_total_calls": getattr(report, "api_total_calls", None),
            }
        )
    )
    pipeline.raise_from_status()
    return 0


if __name__ == "__main__":
    sys.exit(main())
