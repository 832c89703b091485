"""Priority triage: features, model, rules (built in its own issue; nothing here imports daemon)."""
