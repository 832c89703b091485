"""Fault injection against real processes: kill -9, Redis and tracker faults, full disks, Alertmanager."""
