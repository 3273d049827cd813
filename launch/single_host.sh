#!/usr/bin/env bash
# Train on one machine with all its accelerators (GPUs or a TPU VM's chips).
# jax.pmap uses every local device; the global batch is
# per_device_batch_size x number of devices.
#
#   launch/single_host.sh configs/palette.py runs/palette [--config.field=value ...]
#
# Rerunning the same command resumes from the workdir's latest checkpoint.
set -euo pipefail
config=${1:?usage: single_host.sh CONFIG WORKDIR [--config.field=value ...]}
workdir=${2:?usage: single_host.sh CONFIG WORKDIR [--config.field=value ...]}
shift 2
cd "$(dirname "$0")/.."
# Bitwise-reproducible GPU runs cost some speed; set JAXCOLOR_DETERMINISTIC=0 to skip.
if [[ "${JAXCOLOR_DETERMINISTIC:-1}" == "1" ]]; then
  export XLA_FLAGS="${XLA_FLAGS:-} --xla_gpu_deterministic_ops=true"
fi
exec .venv/bin/jaxcolor train --config "$config" --workdir "$workdir" "$@"
