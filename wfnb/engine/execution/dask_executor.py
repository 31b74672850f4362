"""Steps on Dask: ``[executor] kind = "dask"`` (``address = "tcp://host:8786"``, or a
``LocalCluster`` of ``workers`` processes started on first use; ``processes = False`` makes
them threads of this process).

The run's driver stays in the process that started the run and keeps the history: it ships a
step's body, its inputs and a little context to a worker, waits for the answer on one of its
own threads, and writes results, output and tracebacks to the history as for a local step.
Workers never open the DuckDB file. On the worker a step runs in a scratch workspace: its
output is captured there and returned with its result, and an executed notebook comes back
as text and is written under this workspace's artifacts.

- Cancel and timeouts: the driver sets a Dask ``Event`` the worker watches; the step sees
  ``ctx.cancelled``, a notebook step's kernel is interrupted and shut down, the processes a
  Python step started are ended (:mod:`.children`). (A Python step, as on threads, cannot be
  killed: it should look at ``ctx.cancelled``.)
- What runs the steps failing is infrastructure (the task and the run end in Error, not
  Failed): a worker that dies mid-step or a cluster that goes away is :class:`WorkerLost`
  (the step is tried again if it has retries left); a LocalCluster that cannot start is
  :class:`ClusterUnavailable`. A LocalCluster this executor starts lets no task be re-run by
  Dask itself (``allowed-failures = 0``): retries are the step's to decide.
- Notebook-cell workflows keep their steps in one kernel per run, so their steps run in the
  driver's process; approval steps never run anywhere.
"""
from __future__ import annotations

import atexit
import logging
import os
import shutil
import sys
import tempfile
import threading
import traceback
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from ..core.context import RunContext
from ..core.errors import (ClusterUnavailable, ConfigError, InfrastructureError, RemoteStepError,
                           WorkerLost)
from ..core.messages import Failed, Outcome, Succeeded, failure
from ..steps import capture
from ..steps.registry import STEP_KINDS
from .local_executor import ThreadExecutor

POLL = 0.05  # seconds between looks at the run's cancel flag while a step is on Dask


class _Given:
    """The values a worker-side step may take (the driver picked them)."""

    def __init__(self, values: dict):
        self.values = values

    def pick(self, names: list[str]) -> dict:
        return {n: self.values[n] for n in names if n in self.values}

    def everything(self) -> dict:
        return dict(self.values)


class DaskExecutor(ThreadExecutor):
    """Step bodies on Dask; this process's daemon threads only wait for them."""

    kind = "dask"

    def __init__(self, address: str | None = None, workers: int = 2,
                 threads_per_worker: int = 1, max_workers: int = 64, processes: bool = True,
                 **unknown: Any):
        if unknown:
            raise ConfigError(f"[executor] {', '.join(sorted(unknown))}: unknown for kind = "
                              "'dask' (known: address, workers, threads_per_worker, "
                              "processes, max_workers)")
        for name, value in (("workers", workers), ("threads_per_worker", threads_per_worker)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"[executor] {name} must be an integer >= 1, got {value!r}")
        if not isinstance(processes, bool):
            raise ConfigError(f"[executor] processes must be true or false, got {processes!r}")
        if address is not None and not isinstance(address, str):
            raise ConfigError(f"[executor] address must be a string like 'tcp://host:8786', "
                              f"got {address!r}")
        try:
            import distributed  # noqa: F401
        except ImportError:
            raise ConfigError("[executor] kind = 'dask' needs the distributed package: "
                              "pip install 'wfnb[dask]'") from None
        super().__init__(max_workers)
        self.address, self.workers, self.threads_per_worker = address, workers, threads_per_worker
        self.processes = processes
        self.cluster = None
        self._client = None
        self._client_lock = threading.Lock()
        self._checked: dict[str, Any] = {}  # module name -> the module object looked at

    @property
    def client(self):
        """The ``distributed.Client`` (connecting, or starting the LocalCluster, on first use)."""
        with self._client_lock:
            if self._client is None:
                import dask
                from distributed import Client, LocalCluster
                if self.address:
                    try:
                        self._client = Client(self.address, timeout="10s")
                    except OSError as exc:
                        raise WorkerLost(f"cannot reach the Dask scheduler at {self.address}: "
                                         f"{exc}") from None
                    except Exception as exc:  # an address Dask cannot use, ...
                        raise ClusterUnavailable(f"cannot connect to the Dask scheduler at "
                                                 f"{self.address}: {type(exc).__name__}: "
                                                 f"{exc}") from None
                else:
                    self._client = self._local_cluster(dask, Client, LocalCluster)
                atexit.register(self.shutdown)
            return self._client

    def _local_cluster(self, dask, Client, LocalCluster):
        """Start the LocalCluster and connect to it; ClusterUnavailable when it cannot."""
        if self.processes and (script := _unimportable_main()) is not None:
            raise ClusterUnavailable(
                "the Dask LocalCluster cannot start its worker processes: each one re-runs "
                f"the script that started it, and this script ({script!r}) is not a file. "
                "Run it from a file (python script.py) or a notebook, connect to a running "
                "cluster (executor={'kind': 'dask', 'address': 'tcp://host:8786'}), or run "
                "the workers as threads of this process (executor={'kind': 'dask', "
                "'processes': False})")
        try:
            with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
                self.cluster = LocalCluster(
                    n_workers=self.workers, threads_per_worker=self.threads_per_worker,
                    processes=self.processes, dashboard_address=":0",
                    silence_logs=logging.ERROR)
            return Client(self.cluster)
        except Exception as exc:  # its workers did not start (a port, memory, a bad import)
            cluster, self.cluster = self.cluster, None
            if cluster is not None:
                _quietly_close(cluster)
            raise ClusterUnavailable(
                f"the Dask LocalCluster could not start its worker "
                f"{'processes' if self.processes else 'threads'}: {type(exc).__name__}: "
                f"{exc}") from None

    def shutdown(self) -> None:
        with self._client_lock:
            client, cluster, self._client, self.cluster = self._client, self.cluster, None, None
        for closing in (client, cluster):
            if closing is not None:
                _quietly_close(closing)

    # ---- one step -------------------------------------------------------------------------
    def run_step(self, step, ctx, inputs) -> Any:
        if step.kind == "cell":  # the run's cells share one kernel: they stay here
            return super().run_step(step, ctx, inputs)
        from distributed import Event
        self._ship_by_value(step.fn, ctx.workspace)
        names, var_kw = step.arguments()
        values = inputs.pick(names) if step.fn is not None and not var_kw \
            else inputs.everything()
        info = {"files": _code_files(step.fn), "run_id": ctx.run_id, "workflow": ctx.workflow,
                "step": ctx.step, "attempt": ctx.attempt, "params": ctx.params, "user": ctx.user,
                "param_defs": list(ctx.workflow_def.params) if ctx.workflow_def else []}
        key = f"wfnb-{ctx.run_id}-{step.name}-{ctx.attempt}"
        client = self.client  # ClusterUnavailable, WorkerLost: the run ends in Error
        import cloudpickle  # Dask tries plain pickle first, which would send the workspace's
        # functions by reference: pickle the step and its inputs here, by value where needed
        payload = cloudpickle.dumps((step, values, info))
        try:
            future = client.submit(_remote, payload, key, key=key, pure=False)
        except Exception as exc:  # the client is closing, the scheduler went away ...
            raise WorkerLost(f"step {step.name!r} could not be sent to the Dask cluster "
                             f"({type(exc).__name__}: {exc})") from None
        try:
            # wait on the future's state, not on result(timeout=): a timeout inside
            # result() can race in distributed and raise UnboundLocalError (dask/distributed
            # #8514); ctx.sleep wakes at once when the run is cancelled or the step timed out
            while not future.done():
                if ctx.sleep(POLL):  # cancelled or timed out: tell the worker
                    Event(key, client=client).set()
                    raise InfrastructureError("stopped: the run was cancelled or the step "
                                              "timed out")
            try:
                outcome, log, notebook = future.result()
            except Exception as exc:
                if _lost(exc):  # the worker died or the cluster went away: retryable
                    raise WorkerLost(f"the Dask worker running step {step.name!r} was "
                                     f"lost ({type(exc).__name__}: {exc})") from None
                raise RemoteStepError(f"{type(exc).__name__}: {exc}", "",
                                      infrastructure=True) from None
        finally:
            future.release()
        if log:
            print(log, end="")  # into this task's captured output
        if notebook is not None:
            rel, text = notebook
            path = Path(ctx.workspace) / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            ctx.notebook = rel
        if isinstance(outcome, Succeeded):
            return outcome.value
        outcome.raise_again()  # RemoteStepError: the step's message and the worker's traceback

    def _ship_by_value(self, fn, root: Path) -> None:
        """Modules of the workspace (workflow files, helpers next to declared workflows, and
        what they import from the workspace) are not importable on a worker: their
        functions travel by value. Installed packages are imported there by name."""
        import cloudpickle
        prefix = os.path.abspath(root).rstrip(os.sep) + os.sep
        installed = os.path.abspath(sys.prefix).rstrip(os.sep) + os.sep
        for name, module in list(sys.modules.items()):
            if self._checked.get(name) is module:
                continue  # this very module object was looked at before
            self._checked[name] = module
            file = getattr(module, "__file__", None)
            path = os.path.abspath(file) if file else ""
            if path.startswith(prefix) and "site-packages" not in path \
                    and not path.startswith(installed):  # a venv inside the workspace
                cloudpickle.register_pickle_by_value(module)


def _quietly_close(closing) -> None:
    try:
        closing.close()
    except Exception:  # already gone: nothing left to close
        pass


def _unimportable_main() -> str | None:
    """The ``__main__`` file a spawned worker process would re-run and cannot (a script read
    from stdin is ``'<stdin>'``), as :mod:`multiprocessing.spawn` decides; None when fine."""
    import dask
    from multiprocessing import process
    if dask.config.get("distributed.worker.multiprocessing-method", "spawn") == "fork":
        return None  # a forked worker does not re-run anything
    main = sys.modules.get("__main__")
    if getattr(getattr(main, "__spec__", None), "name", None) is not None:
        return None  # run with -m: re-imported by name
    given = getattr(main, "__file__", None)
    if given is None:
        return None  # python -c, an interactive prompt: nothing is re-run
    path = given
    if not os.path.isabs(path) and process.ORIGINAL_DIR is not None:
        path = os.path.join(process.ORIGINAL_DIR, path)
    if os.path.splitext(os.path.basename(path))[0] == "ipython" or os.path.isfile(path):
        return None
    return given


def _lost(exc: BaseException) -> bool:
    """Did the worker (or the way to it) go away, as opposed to the step going wrong?"""
    from distributed import CancelledError
    from distributed.comm.core import CommClosedError
    from distributed.scheduler import KilledWorker
    return isinstance(exc, (KilledWorker, CommClosedError, CancelledError, OSError))


def _code_files(fn) -> dict[str, str]:
    """Function name -> its file, for the step's function and the functions it can see:
    cloudpickle ships code as ``<dynamic-code>``, and a traceback should name the real file."""
    if fn is None or not hasattr(fn, "__code__"):
        return {}
    found = {fn.__code__.co_name: fn.__code__.co_filename}
    for value in getattr(fn, "__globals__", {}).values():
        code = getattr(value, "__code__", None)
        if code is not None and code.co_filename.endswith(".py"):
            found.setdefault(code.co_name, code.co_filename)
    return found


def _real_files(tb: str, files: dict[str, str]) -> str:
    """The worker's traceback with each ``<dynamic-code>`` frame given its file and line."""
    import linecache
    import re

    def frame(m: "re.Match") -> str:
        file = files.get(m.group(2))
        if file is None:
            return m.group(0)
        line = linecache.getline(file, int(m.group(1))).strip()
        return f'File "{file}", line {m.group(1)}, in {m.group(2)}' + (
            f"\n    {line}" if line else "")
    return re.sub(r'File "<dynamic-code>", line (\d+), in (\w+)', frame, tb)


def _remote(payload: bytes, key: str):
    """On a Dask worker: run the step in a scratch workspace, watching the cancel Event;
    return ``(outcome, output, notebook)``, the outcome a :class:`Succeeded` or a
    :class:`Failed` (nothing the step raises escapes)."""
    import cloudpickle
    from distributed import Event, get_client

    try:
        step, values, info = cloudpickle.loads(payload)
    except Exception as exc:  # noqa: BLE001 - e.g. a module the worker cannot import
        return (Failed(f"the step could not be unpacked on the worker: "
                       f"{type(exc).__name__}: {exc}", traceback.format_exc()), "", None)
    cancel, done = threading.Event(), threading.Event()
    event = Event(key, client=get_client())

    def watch() -> None:
        while not done.is_set():
            try:
                if event.wait(timeout=0.2):
                    cancel.set()
                    return
            except Exception:  # the worker is shutting down
                return
    threading.Thread(target=watch, daemon=True, name=f"wfnb-cancel-{key}").start()
    scratch = Path(tempfile.mkdtemp(prefix="wfnb-worker-"))
    workflow = SimpleNamespace(name=info["workflow"], params=info["param_defs"])
    ctx = RunContext(info["run_id"], info["workflow"], info["step"], info["attempt"],
                     info["params"], scratch, cancel, info["user"], {}, workflow)
    sink = capture.Sink()
    capture.install()
    outcome: Outcome
    try:
        with capture.capture(sink):
            value = STEP_KINDS[step.kind].execute(step, ctx, _Given(values))
        try:
            cloudpickle.dumps(value)
            outcome = Succeeded(value)
        except Exception as exc:  # noqa: BLE001 - whatever pickling raises
            outcome = Failed(f"the step's result cannot be sent back from the worker: "
                             f"{type(exc).__name__}: {exc}")
    except BaseException as exc:  # noqa: BLE001 - a step may raise anything
        # a StepFailed keeps its own message and traceback, an InfrastructureError is
        # infrastructure; cloudpickle's <dynamic-code> frames get their real files
        outcome = failure(exc, _real_files(traceback.format_exc(), info["files"]))
    finally:
        done.set()
    notebook = None
    if ctx.notebook and (scratch / ctx.notebook).is_file():
        notebook = (ctx.notebook, (scratch / ctx.notebook).read_text(encoding="utf-8"))
    shutil.rmtree(scratch, ignore_errors=True)
    return outcome, sink.drain(), notebook
