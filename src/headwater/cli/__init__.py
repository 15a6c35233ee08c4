"""The command line: ``python myflow.py COMMAND`` and ``headwater COMMAND flow.py``."""
