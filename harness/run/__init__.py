"""A run: the Engine that turns a cell into its scored Result, the session that owns a run's state,
its backends (in-process or the worker process) and the end of run.
"""
