"""The worker process: the pytest side (client), the child's loop (child) and the typed messages
between them.
"""
