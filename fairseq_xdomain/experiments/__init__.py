"""Python experiment drivers, one console command: ``xdomain-run ubli|wordsim|mlm|unmt|demo``.

Each driver module exposes ``DESCRIPTION`` (one line), ``add_arguments(parser)`` and
``run(args) -> int``; :mod:`.cli` registers them as subcommands. A driver runs its steps on the
one step runner (:mod:`fairseq_xdomain.steps`: a step reruns only when its settings, its inputs'
checksums or the package version changed), takes its settings from a preset
(:mod:`fairseq_xdomain.presets`, ``--preset tiny|cpu|paper`` + overrides), calls library
functions directly and console tools through :func:`fairseq_xdomain.steps.run_logged`, and writes
``run.json`` (configuration, seed, package version, wall time, steps) next to its results.
"""
