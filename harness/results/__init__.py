"""Results on disk (results.jsonl, run folders) and the statistics over them.
"""
