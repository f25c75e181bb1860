"""The ``xdomain-ubli`` commands: argparse and one call per command (:mod:`.cli` dispatches).

Each module declares one subcommand's flags and turns them into the typed config of its run in
``fairseq_xdomain/ubli/`` (``*_run.py``, ``grid.py``), through :mod:`.common` (device and threads,
the flags -> config builder, the one-line result print). Nothing here computes.
"""
