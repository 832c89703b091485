"""Incident KPIs, reports, post-incident drafts and the KPI metrics, all read from the store."""
