"""Downstream trackers (built in their own issue; nothing here imports daemon)."""
