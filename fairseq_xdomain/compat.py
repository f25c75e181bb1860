"""Fixes for fairseq 0.12.3's defects on our paths (torch >= 2.6, NumPy 2, ...), applied on plugin load.

``apply_all()`` (called by ``fairseq_xdomain.register()``, i.e. whenever fairseq loads the plugin
through ``--user-dir``) applies each fix below; every fix is idempotent and touches only the
fairseq module that has the defect (and ``sys.excepthook``), never ``torch`` or ``numpy``
themselves.

1. **Checkpoint loading on torch >= 2.6.** torch 2.6 changed ``torch.load`` to default to
   ``weights_only=True``. fairseq saves whole argparse/omegaconf configs inside checkpoints and
   reloads them with a plain ``torch.load(f, map_location=...)``, so ``--restore-file``,
   ``fairseq-generate`` and ``fairseq-interactive`` fail with ``UnpicklingError: Weights only load
   failed``. Checkpoints are files the user trained themselves, so only the ``torch`` name inside
   ``fairseq.checkpoint_utils`` and ``fairseq.distributed.utils`` (object broadcast, which pickles)
   is replaced by a view of ``torch`` whose ``load`` defaults to ``weights_only=False``.
   The same view turns "this file is not a checkpoint" (a text file, an empty or truncated file)
   into a one-line ``UserError`` naming the file, and ``load_model_ensemble_and_task`` checks that
   each ``--path`` file exists (fairseq raised ``OSError: Model file not found``).
   ``load_trusted_checkpoint`` is the same loader for our own code (``--init-from-mlm``, ...).

2. **NumPy 2 removed aliases.** NumPy 2 removed ``np.compat``, ``np.int``, ``np.float`` (and
   ``np.bool``, ``np.object``, ``np.long``, ``np.unicode``, ``np.NaN``, ``np.Inf``, ``np.product``,
   ``np.cumproduct``, ``np.alltrue``, ``np.sometrue``, ``np.asscalar``, ``np.msort``,
   ``np.round_``, ...). Every ``np.X``/``numpy.X`` attribute used in the installed
   ``fairseq/`` package was checked against NumPy 2 (``hasattr``). What is missing:

   - ``data/token_block_dataset.py:125`` ``np.compat.long`` (break mode ``eos``): OUR PATH,
     ``xlm_mlm --sample-break-mode eos`` and ``xlm_mlm.build_dataset_for_inference`` (case 17).
   - ``data/language_pair_dataset.py:292`` ``np.compat.long`` (``num_buckets > 0``): our path
     with ``--task translation --num-batch-buckets N``.
   - ``data/data_utils.py:877`` ``get_buckets``: ``np.percentile(..., interpolation=)``, a keyword
     NumPy 2 removed (now ``method=``): the same ``--num-batch-buckets`` path.
   - ``data/data_utils.py:524, 1107`` ``np.int`` (span masks without overlap, wav2vec/data2vec):
     a module we use, functions we do not; fixed with the module.
   - ``modules/dynamic_crf_layer.py:108`` ``np.float``: non-autoregressive CRF models, not our
     path, not patched.
   - ``examples/`` (data2vec, MMPT; never imported by fairseq itself) ``np.int/np.float/np.long``:
     not our path.

   The Cython modules ``data/token_block_utils_fast`` and ``data/data_utils_fast`` (compiled against
   NumPy 2) only use ``numpy.int64``, ``numpy.int32`` and ``numpy.zeros``; ``fairseq_cli/`` only
   ``np.random.seed``. ``copy=False``, ``newshape=``, ``np.core``/``np.lib`` internals, ``.ptp()``,
   ``.newbyteorder`` and ``np.in1d`` do not occur outside ``examples/``. ``tests/test_compat.py``
   repeats this scan, so a fairseq upgrade that changes the list fails there.
   Fix: in the three ``data/`` modules ``np`` is replaced by a view of ``numpy`` that also has the old
   aliases with their NumPy 1 meaning (``np.compat.long``, ``np.int``: Python ``int``; ``np.float``:
   Python ``float``) and a ``percentile`` that accepts ``interpolation=``. ``numpy`` itself is
   unchanged.

3. **``--log-file`` lines written N times at epoch N.** fairseq's ``progress_bar()`` adds a new
   ``logging.FileHandler(log_file)`` to its logger on every call (one per epoch and validation), so
   epoch N writes each line N times and the file grows quadratically. The wrapped
   ``progress_bar()`` adds the handler only when its logger has none for that file yet.

4. **A ``UserError`` inside fairseq-train/-generate/-interactive.** The console tools print
   ``error: ...`` and exit 2 (``common.errors.cli_entry``), but inside fairseq's own mains a
   ``UserError`` raised by our tasks/models ended in a full traceback (fairseq's ``cli_main``
   catches nothing). ``install_user_error_hook`` wraps ``sys.excepthook``: a ``UserError`` prints
   the one line and exits 2; anything else keeps its traceback. Multi-process: fairseq spawns one
   process per GPU with ``torch.multiprocessing.spawn`` (``distributed_utils.call_main``); the
   child's exception reaches the parent as ``ProcessRaisedException`` carrying the child's traceback
   text, which the hook also recognises (the last ``...UserError: message`` of the text). With
   ``--distributed-no-spawn`` or ``torchrun`` each process runs fairseq's main itself and has the
   hook. A ``UserError`` re-raised from a DataLoader worker (``--num-workers``) is reduced to its
   message the same way.

5. **Abort at exit after training stopped mid-epoch.** fairseq prefetches batches in a daemon
   thread (``iterators.BackgroundConsumer``). When training stops before the end of an epoch
   (``--max-update``), that thread is still building the remaining batches when Python exits; a
   daemon thread that touches a tensor during interpreter shutdown is killed inside C++ code, and
   the process dies with ``terminate called without an active exception`` (exit 134) after "done
   training" (seen with ``xlm_mlm --sample-break-mode eos``, whose batches are slow to build).
   The consumer now stops handing out batches when the process exits, and an ``atexit`` handler
   waits for it.

6. **Several processes and precision flags.** ``--ddp-backend pytorch_ddp`` passes
   ``device_ids`` for a CPU module, which torch refuses: fairseq's DDP class name is replaced by
   one that drops them for CPU modules. ``--bf16``/``--memory-efficient-bf16`` are turned into TPU
   mode by fairseq's option parsing and fail without torch_xla: TPU mode is switched back off.
   ``--task muse_ubli`` with memory-efficient fp16/bf16 (fairseq's SGD has no such path) is a
   one-line error. See ``patch_fairseq_distributed_and_precision``.

7. **A run's folder, budget, restart and disk.** Before ``fairseq-train`` does any work (in the
   same ``call_main``): its complete configuration is checked by
   :func:`fairseq_xdomain.training_checks.check_training_config` (a negative or missing budget,
   ``--max-tokens`` below one block, an explicit ``--restore-file`` that does not exist: one line,
   exit 2), and the first process takes ``--save-dir`` for itself
   (:func:`fairseq_xdomain.common.folder_lock.own_folder`: a second run on that folder stops with
   ``error: SAVE_DIR: in use by fairseq-train (pid N)``). Checkpoints are written to
   ``NAME.tmp`` and renamed, and copied (``checkpoint_last.pt`` from ``checkpointN.pt``) the same
   way; a disk that is full, a file-size limit, a read-only folder or a path below a file is one
   line ``error: PATH: cannot save checkpoint: CAUSE`` (exit 2) with no ``.tmp`` or partial file
   left, instead of three retries and a traceback. See ``patch_fairseq_checkpoint_saving``.

8. **DataLoader workers left behind every epoch.** fairseq builds its batch iterators with
   ``persistent_workers=True`` (with ``--num-workers`` > 0, its default is 1), which pays off only
   when the same iterator serves the next epoch. For a dataset whose batches change every epoch
   (``can_reuse_epoch_itr_across_epochs`` False: the MLM's masking, UNMT's noise) fairseq builds a
   new iterator each epoch and for each validation; and since fairseq stops taking batches after
   ``len`` of them, no DataLoader iterator ever reaches its end, where torch stops the workers.
   So every epoch's workers (each a fork of the trainer) stayed alive until Python's cycle
   collector freed the iterator, and then each cost torch's 5 s join timeout (the collector
   has by then closed the queue that would have told the worker to stop): a tiny MLM (500
   updates in ~2 s epochs, one core) stalled 35-55 s at a time inside checkpoint saves, 162 s
   in all instead of 64 s. Now an iterator that fairseq does not keep for reuse gets
   ``persistent_workers=False`` (``patch_fairseq_epoch_workers``), and such an epoch's workers
   are stopped once its batches are all taken, by the prefetch thread of fix 5 or, without one
   (``--data-buffer-size 0``), by fairseq's ``CountingIterator``.
"""
from __future__ import annotations

import contextlib
import functools
import inspect
import logging
import os
import pickle
import queue
import sys
import threading
import types

import numpy
import torch

from .common.errors import UserError, is_machine_error, os_error_message

_CHECKPOINT_MODULES = ("fairseq.checkpoint_utils", "fairseq.distributed.utils")
_NUMPY2_MODULES = (
    "fairseq.data.token_block_dataset",
    "fairseq.data.language_pair_dataset",
    "fairseq.data.data_utils",
)

# ---------------------------------------------------------------- 1. checkpoints


def _not_a_checkpoint(err: BaseException) -> bool:
    """Does this exception of ``torch.load`` mean the file is not a (complete) checkpoint?"""
    if isinstance(err, (pickle.UnpicklingError, EOFError, UnicodeDecodeError)):
        return True
    text = str(err)
    return isinstance(err, RuntimeError) and any(
        key in text for key in ("PytorchStreamReader", "magic number", "zip archive")
    )


def _source_name(f):
    """The path ``torch.load`` reads from, or None (an in-memory buffer)."""
    if isinstance(f, (str, os.PathLike)):
        return os.fspath(f)
    name = getattr(f, "name", None)
    return name if isinstance(name, str) else None


def _trusted_load(f, *args, **kwargs):
    """``torch.load`` with ``weights_only=False``; a file that is not a checkpoint is a UserError."""
    kwargs.setdefault("weights_only", False)
    try:
        return torch.load(f, *args, **kwargs)
    except Exception as err:
        path = _source_name(f)
        if path is None or not _not_a_checkpoint(err):
            raise
        first = (str(err).strip().splitlines() or [""])[0]
        raise UserError(f"{path}: not a PyTorch/fairseq checkpoint, or a truncated one "
                        f"({type(err).__name__}: {first})") from err


class _TorchTrustedLoad(types.ModuleType):
    """Looks like the ``torch`` module; ``load`` is ``_trusted_load``."""

    def __init__(self):
        super().__init__("torch")

    def __getattr__(self, name):
        return getattr(torch, name)

    load = staticmethod(_trusted_load)


def load_trusted_checkpoint(path, map_location="cpu"):
    """Load a checkpoint file we or the user wrote (full pickle, not weights only).

    A missing file, a directory, or a file that is not a checkpoint is a one-line UserError.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise UserError(f"{path}: checkpoint file does not exist")
    if os.path.isdir(path):
        raise UserError(f"{path}: is a directory, not a checkpoint file")
    return _trusted_load(path, map_location=map_location)


def _checked_ensemble_loader(original):
    """Wrap ``checkpoint_utils.load_model_ensemble_and_task``: a missing ``--path`` is a UserError."""
    signature = inspect.signature(original)

    @functools.wraps(original)
    def load_model_ensemble_and_task(*args, **kwargs):
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        arg = bound.arguments
        if arg["state"] is None and arg["num_shards"] == 1 and not arg["suffix"]:
            from fairseq.file_io import PathManager

            for filename in arg["filenames"]:
                if not PathManager.exists(filename):
                    raise UserError(f"{filename}: checkpoint file does not exist (--path)")
        return original(*args, **kwargs)

    load_model_ensemble_and_task.xdomain_patched = True
    return load_model_ensemble_and_task


def _set_module_global(module_names, name: str, shim) -> None:
    """Set global ``name`` of each module in ``module_names`` (imported here) to ``shim``, unless
    it already holds an object of ``shim``'s type (idempotent: ``apply_all`` may run twice)."""
    import importlib

    for module_name in module_names:
        module = importlib.import_module(module_name)
        if not isinstance(getattr(module, name, None), type(shim)):
            setattr(module, name, shim)


def patch_fairseq_checkpoint_loading() -> None:
    """Make fairseq's checkpoint loaders work on torch >= 2.6 (idempotent)."""
    import importlib

    _set_module_global(_CHECKPOINT_MODULES, "torch", _TorchTrustedLoad())
    checkpoint_utils = importlib.import_module("fairseq.checkpoint_utils")
    loader = checkpoint_utils.load_model_ensemble_and_task
    if not getattr(loader, "xdomain_patched", False):
        checkpoint_utils.load_model_ensemble_and_task = _checked_ensemble_loader(loader)


# ---------------------------------------------------------------- 2. NumPy 2


class _NumpyWithOldAliases(types.ModuleType):
    """Looks like ``numpy``, plus the aliases NumPy 2 removed that fairseq 0.12.3 still uses."""

    def __init__(self):
        super().__init__("numpy")
        # NumPy 1 meanings: np.compat.long and np.int were Python's int, np.float Python's float.
        self.compat = types.SimpleNamespace(long=int)
        self.int = int
        self.float = float

    @staticmethod
    def percentile(*args, **kwargs):
        """``numpy.percentile``; the ``interpolation=`` keyword NumPy 2 dropped is ``method=``."""
        if "interpolation" in kwargs:
            kwargs["method"] = kwargs.pop("interpolation")
        return numpy.percentile(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(numpy, name)


def patch_fairseq_numpy2() -> None:
    """Give the fairseq modules of the table above the NumPy aliases they use (idempotent)."""
    _set_module_global(_NUMPY2_MODULES, "np", _NumpyWithOldAliases())


# ---------------------------------------------------------------- 3. --log-file


def _one_file_handler(original, logger):
    """Wrap ``progress_bar()`` so that it adds the ``--log-file`` handler only once per file."""
    signature = inspect.signature(original)

    @functools.wraps(original)
    def progress_bar(*args, **kwargs):
        bound = signature.bind(*args, **kwargs)
        log_file = bound.arguments.get("log_file")
        if log_file is not None:
            path = os.path.abspath(os.fspath(log_file))
            if any(isinstance(h, logging.FileHandler) and h.baseFilename == path
                   for h in logger.handlers):
                bound.arguments["log_file"] = None
        return original(*bound.args, **bound.kwargs)

    progress_bar.xdomain_patched = True
    return progress_bar


def patch_fairseq_log_file() -> None:
    """``--log-file``: each line once, whatever the number of epochs (idempotent)."""
    from fairseq.logging import progress_bar as module

    if not getattr(module.progress_bar, "xdomain_patched", False):
        module.progress_bar = _one_file_handler(module.progress_bar, module.logger)


# ---------------------------------------------------------------- 4. UserError in fairseq's mains

_USER_ERROR_NAME = f"{UserError.__module__}.{UserError.__qualname__}"


def _message_from_traceback_text(text: str):
    """The message of the last ``...UserError: message`` of a formatted traceback, or None."""
    for prefix in (f"\n{_USER_ERROR_NAME}: ", f"\n{UserError.__qualname__}: "):
        at = text.rfind(prefix)
        if at >= 0:
            return text[at + len(prefix):].strip()
    return None


def user_error_message(exc: BaseException):
    """The one-line message to print for ``exc`` if it is (or carries) a UserError, else None."""
    if isinstance(exc, UserError):
        text = str(exc)
        if "Original Traceback" in text:  # re-raised from a DataLoader worker process
            return _message_from_traceback_text(text) or text
        return text
    try:
        from torch.multiprocessing import ProcessRaisedException
    except ImportError:  # pragma: no cover - older torch
        return None
    if isinstance(exc, ProcessRaisedException):  # raised in a torch.multiprocessing.spawn child
        return _message_from_traceback_text(str(exc))
    if is_machine_error(exc):  # disk full, file-size limit, read-only folder (section 7)
        return os_error_message(exc)
    return None


def install_user_error_hook() -> None:
    """Wrap ``sys.excepthook``: a UserError prints ``error: ...`` and exits 2 (idempotent)."""
    previous = sys.excepthook
    if getattr(previous, "xdomain_patched", False):
        return

    def excepthook(exc_type, exc, tb):
        message = user_error_message(exc)
        if message is None:
            return previous(exc_type, exc, tb)
        sys.stdout.flush()
        # the real stderr: torch.distributed's own hook (init_process_group) wraps this one and
        # captures sys.stderr into a buffer that it only writes out if the hook returns
        stream = sys.__stderr__ or sys.stderr
        print(f"error: {message}", file=stream, flush=True)
        sys.exit(2)

    excepthook.xdomain_patched = True
    sys.excepthook = excepthook


# ---------------------------------------------------------------- 5. prefetch thread at exit

_EXITING = threading.Event()


def _put_unless_exiting(q, item) -> bool:
    """``q.put(item)``, giving up (False) once the process is exiting."""
    while not _EXITING.is_set():
        try:
            q.put(item, timeout=0.05)
            return True
        except queue.Full:
            continue
    return False


def _background_consumer_run(self):
    """fairseq 0.12.3's ``BackgroundConsumer.run``, stopping when the process exits."""
    from fairseq.data import iterators

    if self.cuda_device is not None:
        torch.cuda.set_device(self.cuda_device)
    source = None
    try:
        source = iter(self._source)
        for item in source:
            if not _put_unless_exiting(self._queue, item):
                return
            self.count += 1
            if self._max_len is not None and self.count >= self._max_len:
                break
        _put_unless_exiting(self._queue, iterators._sentinel)
    except Exception as err:  # handed to the consumer, as fairseq does
        _put_unless_exiting(self._queue, err)
    finally:
        _stop_epoch_workers(source)


def _counting_next(self):
    """fairseq's ``CountingIterator.__next__``; after the epoch's last batch (``total``) the
    DataLoader's workers are stopped (fix 8; the path without a prefetch thread,
    ``--data-buffer-size 0``)."""
    item = _ORIGINAL_COUNTING_NEXT[0](self)
    if self.n >= self.total:
        _stop_epoch_workers(self._itr)
    return item


_ORIGINAL_COUNTING_NEXT: list = []


def _stop_epoch_workers(source) -> None:
    """The DataLoader workers of an epoch whose batches are all taken, stopped now (fix 8).

    fairseq stops taking batches after ``len`` of them, so the DataLoader never reaches its
    own end and never stops its (non-persistent) workers; left to garbage collection, each of
    them costs torch's 5 s join timeout. Persistent workers (an iterator fairseq reuses next
    epoch) are left running."""
    if getattr(source, "_persistent_workers", True) is False and \
            hasattr(source, "_shutdown_workers"):
        source._shutdown_workers()


def _stop_background_consumers(timeout: float = 60.0) -> None:
    """At exit: let the prefetch threads finish the batch they build, then stop them."""
    _EXITING.set()
    from fairseq.data.iterators import BackgroundConsumer

    for thread in threading.enumerate():
        if isinstance(thread, BackgroundConsumer) and thread.is_alive():
            thread.join(timeout)


def patch_fairseq_prefetch_thread() -> None:
    """No abort at exit when training stops mid-epoch (idempotent)."""
    import atexit

    from fairseq.data.iterators import BackgroundConsumer

    if BackgroundConsumer.run is not _background_consumer_run:
        BackgroundConsumer.run = _background_consumer_run
        atexit.register(_stop_background_consumers)


# ---------------------------------------------------------------- 6. several processes, precision


def _check_and_fix_run_config(cfg) -> None:
    """Precision and launch settings fairseq 0.12.3 gets wrong, fixed or refused before it runs.

    - ``--bf16``/``--memory-efficient-bf16``: fairseq's option parsing turns them into TPU mode
      (``--tpu``), which fails without torch_xla (``'NoneType' object has no attribute
      'xla_device'``). Without torch_xla, TPU mode is switched back off: bf16 then trains on
      the GPU or CPU (model, batches and criterion in bfloat16, fp32 master weights for
      ``--bf16``, no loss scaling).
    - ``--task muse_ubli`` with ``--memory-efficient-fp16/bf16``: fairseq's SGD has no
      memory-efficient path (``Unsupported optimizer: SGD``): refused.
    """
    import importlib.util

    common = cfg.common
    if common.bf16 and common.tpu and importlib.util.find_spec("torch_xla") is None:
        from omegaconf import open_dict

        with open_dict(cfg):
            common.tpu = False
            if "tpu" in cfg.distributed_training:
                cfg.distributed_training.tpu = False
    task = getattr(cfg.task, "_name", None) if cfg.get("task") is not None else None
    if task == "muse_ubli" and (common.memory_efficient_fp16 or common.memory_efficient_bf16):
        flag = "--memory-efficient-fp16" if common.memory_efficient_fp16 else "--memory-efficient-bf16"
        raise UserError(f"--task muse_ubli: {flag} is not supported (fairseq's SGD has no memory-efficient "
                "path); use --fp16 on a GPU, --bf16, or no precision flag")


class _DeviceAwareDDP(torch.nn.parallel.DistributedDataParallel):
    """torch's DDP, minus the ``device_ids`` fairseq passes for a CPU module (torch refuses them)."""

    def __init__(self, module, device_ids=None, output_device=None, **kwargs):
        on_cpu = all(p.device.type == "cpu" for p in module.parameters())
        if on_cpu:
            device_ids = output_device = None
        super().__init__(module, device_ids=device_ids, output_device=output_device, **kwargs)


def patch_fairseq_distributed_and_precision() -> None:
    """``--ddp-backend pytorch_ddp`` on CPU (gloo) and bf16 without a TPU (idempotent).

    fairseq 0.12.3 builds ``DistributedDataParallel(module, device_ids=[device_id])`` also for a
    CPU module, which torch refuses: the name in ``fairseq.models.distributed_fairseq_model`` is
    replaced by a subclass that drops the device ids for CPU modules. ``call_main`` (every
    fairseq command line tool goes through it once its config is parsed) first runs
    ``_check_and_fix_run_config``.
    """
    import fairseq.distributed.utils as dist_utils
    import fairseq.models.distributed_fairseq_model as dfm

    dfm.DistributedDataParallel = _DeviceAwareDDP
    if not getattr(dist_utils.call_main, "_xdomain_checked", False):
        original = dist_utils.call_main

        def call_main(cfg, main, **kwargs):
            _check_and_fix_run_config(cfg)
            if getattr(main, "__module__", "") == "fairseq_cli.train":
                _check_training_run(cfg)
                main = _OwnSaveDirThenRun(main)
            return original(cfg, main, **kwargs)

        call_main._xdomain_checked = True
        dist_utils.call_main = call_main


# ---------------------------------------------------------------- 7. folder, budget, restart, disk


def _check_training_run(cfg) -> None:
    """fairseq-train's complete config checked before any work (every process)."""
    from .training_checks import check_training_config

    check_training_config(cfg)


class _OwnSaveDirThenRun:
    """fairseq-train's ``main``, preceded by taking ``--save-dir`` for this run in the master
    process (rank 0, once fairseq has assigned ranks: spawned, torchrun, SLURM or
    ``--distributed-rank``). A class, not a closure: fairseq pickles ``main`` for spawned ranks."""

    def __init__(self, main):
        self.main = main

    def __call__(self, cfg, **kwargs):
        from fairseq.distributed import utils as distributed_utils

        from .common.folder_lock import own_folder

        if distributed_utils.is_master(cfg.distributed_training) and not cfg.checkpoint.no_save:
            own_folder(cfg.checkpoint.save_dir)
        return self.main(cfg, **kwargs)


def _machine_error_in(err: BaseException):
    """The OSError of MACHINE_ERRNOS behind ``err`` (torch's zip writer wraps it), or None."""
    seen = set()
    while err is not None and id(err) not in seen:
        if is_machine_error(err):
            return err
        seen.add(id(err))
        err = err.__cause__ or err.__context__
    return None


def _cleanup_and_raise(err: BaseException, tmp: str, target: str, what: str):
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp)
    cause = _machine_error_in(err)
    if cause is not None:
        raise UserError(os_error_message(cause, target, what)) from None
    raise err


def _atomic_torch_save(obj, filename, async_write: bool = False):
    """fairseq's ``torch_persistent_save``: ``filename.tmp`` then rename, no retries; a failed
    write removes the ``.tmp`` and is a UserError naming the file and the cause."""
    filename = os.fspath(filename)
    tmp = filename + ".tmp"
    try:
        with open(tmp, "wb") as handle:
            torch.save(obj, handle)
        os.replace(tmp, filename)
    except Exception as err:  # noqa: BLE001 - re-raised unless it is the machine's
        _cleanup_and_raise(err, tmp, filename, "cannot save checkpoint")


class _AtomicCopyPathManager:
    """fairseq's ``PathManager`` whose ``copy`` writes ``dst.tmp`` and renames it (no partial
    ``checkpoint_last.pt`` when the disk fills during the copy)."""

    def __init__(self, manager):
        self._manager = manager

    def __getattr__(self, name):
        return getattr(self._manager, name)

    def copy(self, src_path, dst_path, overwrite=False, **kwargs):
        import shutil

        if not os.path.isfile(os.fspath(src_path)):
            return self._manager.copy(src_path, dst_path, overwrite, **kwargs)
        dst = os.fspath(dst_path)
        if os.path.exists(dst) and not overwrite:
            return False
        tmp = dst + ".tmp"
        try:
            shutil.copyfile(os.fspath(src_path), tmp)
            os.replace(tmp, dst)
        except Exception as err:  # noqa: BLE001
            _cleanup_and_raise(err, tmp, dst, "cannot save checkpoint")
        return True


def patch_fairseq_checkpoint_saving() -> None:
    """Checkpoint saving: atomic, no partial files, one line on a full disk (idempotent)."""
    import fairseq.checkpoint_utils as checkpoint_utils

    checkpoint_utils.torch_persistent_save = _atomic_torch_save
    if not isinstance(checkpoint_utils.PathManager, _AtomicCopyPathManager):
        checkpoint_utils.PathManager = _AtomicCopyPathManager(checkpoint_utils.PathManager)


# ---------------------------------------------------------------- 8. DataLoader workers per epoch


def _get_batch_iterator_without_stale_workers(self, dataset, *args, **kwargs):
    """fairseq's ``FairseqTask.get_batch_iterator``; an iterator it does not cache for reuse
    (a new one every epoch or validation) gets ``persistent_workers=False`` before its first
    DataLoader is built (they are built lazily, at ``next_epoch_itr``)."""
    epoch_iter = _ORIGINAL_GET_BATCH_ITERATOR[0](self, dataset, *args, **kwargs)
    cache = getattr(self, "dataset_to_epoch_iter", {})
    if cache.get(dataset) is not epoch_iter and hasattr(epoch_iter, "persistent_workers"):
        epoch_iter.persistent_workers = False
    return epoch_iter


_ORIGINAL_GET_BATCH_ITERATOR: list = []


def patch_fairseq_epoch_workers() -> None:
    """No DataLoader workers left alive by the iterators of past epochs (idempotent)."""
    from fairseq.data.iterators import CountingIterator
    from fairseq.tasks.fairseq_task import FairseqTask

    if FairseqTask.get_batch_iterator is not _get_batch_iterator_without_stale_workers:
        _ORIGINAL_GET_BATCH_ITERATOR[:] = [FairseqTask.get_batch_iterator]
        FairseqTask.get_batch_iterator = _get_batch_iterator_without_stale_workers
    if CountingIterator.__next__ is not _counting_next:
        _ORIGINAL_COUNTING_NEXT[:] = [CountingIterator.__next__]
        CountingIterator.__next__ = _counting_next


def apply_all() -> None:
    """Apply every fix of this module (idempotent); called by ``fairseq_xdomain.register()``."""
    patch_fairseq_checkpoint_loading()
    patch_fairseq_numpy2()
    patch_fairseq_log_file()
    install_user_error_hook()
    patch_fairseq_prefetch_thread()
    patch_fairseq_distributed_and_precision()
    patch_fairseq_checkpoint_saving()
    patch_fairseq_epoch_workers()
