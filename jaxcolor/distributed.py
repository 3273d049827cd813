"""Multi-host start-up: `jax.distributed.initialize` before anything touches devices."""

import os

from jaxcolor.errors import UserError

_AUTO_ENV = ("SLURM_JOB_ID", "OMPI_COMM_WORLD_SIZE", "TPU_WORKER_HOSTNAMES", "CLOUD_TPU_TASK_ID")


def initialize(args=None):
  """Joins a multi-process job when one is configured; a single process does nothing.

  Explicit --coordinator/--num-processes/--process-id win; otherwise jax detects
  SLURM, Open MPI and Cloud TPU pods from their environment variables.
  """
  import jax  # pylint: disable=g-import-not-at-top
  coordinator = getattr(args, "coordinator", None)
  num = getattr(args, "num_processes", None)
  pid = getattr(args, "process_id", None)
  local = getattr(args, "local_devices", None)
  explicit = [v is not None for v in (coordinator, num, pid)]
  if any(explicit) and not all(explicit):
    raise UserError("--coordinator, --num-processes and --process-id go together")
  if all(explicit):
    # Only CPU collectives read this; accelerators keep their own (NCCL, ICI).
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    kwargs = {}
    if local:
      kwargs["local_device_ids"] = [int(i) for i in local.split(",")]
    jax.distributed.initialize(coordinator_address=coordinator, num_processes=num,
                               process_id=pid, **kwargs)
    return True
  if any(os.environ.get(v) for v in _AUTO_ENV) and _multi_process_env():
    jax.distributed.initialize()
    return True
  return False


def _multi_process_env() -> bool:
  for var in ("SLURM_NTASKS", "OMPI_COMM_WORLD_SIZE"):
    if os.environ.get(var, "1") not in ("", "1"):
      return True
  return bool(os.environ.get("TPU_WORKER_HOSTNAMES", "").count(","))


def barrier(name: str, timeout_s: int = 3600):
  """Waits for every process at the coordination service; one process returns at once.

  Not a device collective: gloo gives a collective 30 s for all processes to
  arrive, too short when one process builds a dataset or compiles longer.
  """
  import jax  # pylint: disable=g-import-not-at-top
  if jax.process_count() > 1:
    from orbax.checkpoint import multihost  # pylint: disable=g-import-not-at-top
    multihost.get_barrier_sync_fn()(key=f"jaxcolor_{name}", timeout_ms=timeout_s * 1000)
