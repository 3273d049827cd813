#!/usr/bin/env bash
# N processes on this machine, talking over localhost: how multi-host runs are
# tested without a cluster (on CPU each process gets DEVICES fake devices and
# the collectives go over gloo).
#
#   launch/local_processes.sh 2 2 configs/tiny.py runs/two_hosts
set -euo pipefail
n=${1:?usage: local_processes.sh NUM_PROCESSES DEVICES_PER_PROCESS CONFIG WORKDIR [...]}
devices=${2:?usage: local_processes.sh NUM_PROCESSES DEVICES_PER_PROCESS CONFIG WORKDIR [...]}
config=${3:?}; workdir=${4:?}
shift 4
cd "$(dirname "$0")/.."
port=${PORT:-$((20000 + RANDOM % 20000))}
pids=()
for ((i = 0; i < n; i++)); do
  JAX_PLATFORMS=cpu JAX_NUM_CPU_DEVICES="$devices" \
  XLA_FLAGS="--xla_force_host_platform_device_count=$devices" \
    .venv/bin/jaxcolor train --config "$config" --workdir "$workdir" --no-progress \
      --coordinator "127.0.0.1:$port" --num-processes "$n" --process-id "$i" "$@" &
  pids+=($!)
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=$?; done
exit $status
