"""Real trackers started by tests (subprocesses on loopback), installed as dev extras."""
