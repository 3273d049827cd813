#!/usr/bin/env bash
# A Cloud TPU VM pod slice: the same command on every worker. jax detects the
# pod and its coordinator itself. Each worker needs this repository and its
# .venv (with jax[tpu]) at the same path, and WORKDIR on storage all workers
# share (e.g. a gcsfuse mount or a gs:// path that orbax accepts).
#
#   launch/tpu_pod.sh TPU_NAME ZONE configs/palette.py /mnt/shared/runs/palette [--config.x=y ...]
set -euo pipefail
tpu=${1:?usage: tpu_pod.sh TPU_NAME ZONE CONFIG WORKDIR [--config.field=value ...]}
zone=${2:?usage: tpu_pod.sh TPU_NAME ZONE CONFIG WORKDIR [--config.field=value ...]}
config=${3:?usage: tpu_pod.sh TPU_NAME ZONE CONFIG WORKDIR [--config.field=value ...]}
workdir=${4:?usage: tpu_pod.sh TPU_NAME ZONE CONFIG WORKDIR [--config.field=value ...]}
shift 4
repo=${JAXCOLOR_REPO:-~/jaxcolor}
printf -v extra ' %q' "$@"
gcloud compute tpus tpu-vm ssh "$tpu" --zone "$zone" --worker=all --command \
  "cd $repo && .venv/bin/jaxcolor train --config $config --workdir $workdir --no-progress$extra"
