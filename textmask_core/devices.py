"""Choice of compute device: automatic, or named and checked."""

from __future__ import annotations

import contextlib
import logging

import torch

from textmask_core.errors import DeviceUnavailableError

logger = logging.getLogger(__name__)


def select_device(name: str = "auto") -> torch.device:
    """Return the device to run on.

    "auto" picks CUDA, then Apple MPS, then the CPU. A named device ("cpu", "cuda", "cuda:1",
    "mps") that cannot be used raises ``DeviceUnavailableError`` with the reason; there is no
    silent fallback to the CPU.
    """
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError as error:
        raise DeviceUnavailableError(
            f"invalid device name {name!r}; use auto, cpu, cuda, cuda:N or mps"
        ) from error
    _check_available(device)
    return device


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def _check_available(device: torch.device) -> None:
    if device.type == "cpu":
        return
    if device.type == "cuda":
        if not torch.cuda.is_available():
            reason = (
                "this PyTorch build has no CUDA support"
                if torch.version.cuda is None
                else "no NVIDIA GPU or driver was found"
            )
            raise DeviceUnavailableError(
                f"device {device} is unavailable: {reason}; use auto or cpu"
            )
        count = torch.cuda.device_count()
        if device.index is not None and device.index >= count:
            raise DeviceUnavailableError(
                f"device {device} is unavailable: only {count} CUDA device(s) found"
            )
        return
    if device.type == "mps":
        if not _mps_available():
            raise DeviceUnavailableError(
                f"device {device} is unavailable: Apple MPS needs macOS on Apple silicon; "
                "use auto or cpu"
            )
        return
    raise DeviceUnavailableError(
        f"device type {device.type!r} is not supported; use auto, cpu, cuda or mps"
    )


def autocast_context(device: torch.device) -> contextlib.AbstractContextManager:
    """Mixed precision on GPUs (bfloat16 where supported, else float16); nothing on the CPU."""
    if device.type == "cuda":
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.autocast("cuda", dtype=dtype)
    if device.type == "mps":
        return torch.autocast("mps", dtype=torch.float16)
    return contextlib.nullcontext()
