"""The operator's pure core: spec parsing, desired objects, conditions, status and diffs.

Nothing here performs I/O or imports kopf or an API client, so all of it is table-testable.
"""
