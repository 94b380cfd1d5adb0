"""Suites: the model of a loaded suite, reading and validating suite files, the parsed-suite cache,
prompt templating and target strings.
"""
