"""What the distributed modes add to :mod:`trainlab.processes` (starting, watching and ending
child processes): joining a torch.distributed process group.

:func:`init_group` joins a gloo process group with a timeout on every wait; a port in use is
checked before (:func:`trainlab.processes.check_port`), so it is a clear error.
"""

from __future__ import annotations

import datetime


def init_group(
    rank: int, world: int, address: str, port: int, timeout_s: float, backend: str = "gloo"
) -> None:
    """Join the process group of ``world`` processes meeting at ``address:port``; every
    collective or point-to-point wait then gives up after ``timeout_s`` seconds."""
    import torch.distributed as dist

    dist.init_process_group(
        backend,
        init_method=f"tcp://{address}:{port}",
        rank=rank,
        world_size=world,
        timeout=datetime.timedelta(seconds=timeout_s),
    )
