"""triaged's daemon: HTTP intake, the pipeline, the stores, the API and the CLI."""
