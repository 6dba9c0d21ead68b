"""Gale's kopf operator: turns ``Microservice`` resources into running services."""
