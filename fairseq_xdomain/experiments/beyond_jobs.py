"""The run of each producer of a beyond-the-paper UBLI method (``ubli_methods.METHODS[...]
.producer``: ``evaluate``, ``reallocate``, ``align``), in process: ``JOBS[producer](method,
namespace of the command's options, PairFiles, joint grid map) -> run(device)``. Used by the
``beyond.*`` steps of ``xdomain-run ubli`` and by their ``--plan`` probes.
"""
from __future__ import annotations


def _evaluate_job(m, ns, files, joint_map):
    """``xdomain-ubli evaluate`` (W = I, or the joint grid's map) of namespace ``ns``."""
    from ..ubli.commands.common import config_from_args
    from ..ubli.evaluate_run import EvaluateConfig, run_evaluate

    cfg = config_from_args(EvaluateConfig, ns, mapping=str(joint_map) if m.uses_grid_map else None)
    return lambda device: run_evaluate(files, cfg.check(), device)


def _reallocate_job(m, ns, files, joint_map):
    """``xdomain-ubli reallocate`` of namespace ``ns``."""
    from ..ubli.commands.common import config_from_args, refinement_from_args
    from ..ubli.reallocation_run import ReallocateConfig, run_reallocate

    cfg = config_from_args(ReallocateConfig, ns, refinement=refinement_from_args(ns))
    return lambda device: run_reallocate(files, cfg.check(), device)


def _self_learning_job(m, ns, files, joint_map):
    """``xdomain-ubli align --method self-learning`` of namespace ``ns``."""
    from ..ubli.commands.align import sl_config
    from ..ubli.commands.common import config_from_args, refinement_from_args
    from ..ubli.self_learning_run import SelfLearningRunConfig, run_self_learning

    cfg = config_from_args(SelfLearningRunConfig, ns, self_learning=sl_config(ns),
                           refinement=refinement_from_args(ns))
    return lambda device: run_self_learning(files, cfg.check(), device)


#: the run of each producer of a beyond-the-paper method (``ubli_methods.METHODS[...].producer``)
JOBS = {"evaluate": _evaluate_job, "reallocate": _reallocate_job, "align": _self_learning_job}
