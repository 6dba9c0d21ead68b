"""Tests of the observability assets Gale ships: dashboards, alert rules, collector config."""
