"""Calls: one request to one answer - the runner (limits, retries, budget), the response cache,
prices and the pre-run estimate.
"""
