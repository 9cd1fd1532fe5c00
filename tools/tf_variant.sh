#!/bin/sh
# Which TensorFlow wheel `make run` / `make test` install: prints "gpu" or "cpu".
#   gpu: tensorflow[and-cuda] (requirements-gpu.txt), which brings CUDA 12 and cuDNN as pip
#        wheels, on Linux x86-64 where `nvidia-smi -L` lists a GPU;
#   cpu: the plain tensorflow wheel (requirements.txt) everywhere else (CI, laptops, macOS).
# The first argument overrides: "cpu", "gpu" or "auto" (the default; `make run TF=cpu`).
# Exits 2 with a message on stderr for any other value.
choice="${1:-auto}"
case "$choice" in
  cpu|gpu) echo "$choice"; exit 0 ;;
  auto) ;;
  *) echo "TF must be auto, cpu or gpu (got '$choice')" >&2; exit 2 ;;
esac
# the CUDA wheels exist for Linux x86-64 only
if [ "$(uname -s 2>/dev/null)" != "Linux" ] || [ "$(uname -m 2>/dev/null)" != "x86_64" ]; then
  echo cpu; exit 0
fi
if ! command -v nvidia-smi >/dev/null 2>&1; then
  echo cpu; exit 0
fi
# `nvidia-smi -L` prints "GPU 0: NVIDIA A100-SXM4-40GB (UUID: GPU-...)" per card; a host with
# the tool but no working driver prints an error and lists none
nvidia-smi -L 2>/dev/null | while IFS= read -r line; do
  case "$line" in
    "GPU "[0-9]*:*) echo gpu; break ;;
  esac
done | { read -r found && echo "$found" || echo cpu; }
