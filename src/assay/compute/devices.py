"""Which device the families train on: `--device auto` picks CUDA where an NVIDIA GPU is
present (the driver lists it under /proc/driver/nvidia/gpus -- checked without importing
torch, which would cost a second or two per fit), else the CPU. Families that can use it
(`capabilities.gpu`: the MLP, XGBoost, CatBoost) read `info.device`; the others ignore it."""

from __future__ import annotations

import os

DEVICES = ("auto", "cpu", "cuda")
_NVIDIA = "/proc/driver/nvidia/gpus"


def gpu_present() -> bool:
    try:
        return bool(os.listdir(_NVIDIA))
    except OSError:
        return False


def resolve_device(device: str) -> str:
    if device == "auto":
        return "cuda" if gpu_present() else "cpu"
    return device
