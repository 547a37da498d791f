"""One rank of a test training run under torchrun (tests/test_training_ddp.py).

    python -m torch.distributed.run --standalone --nproc-per-node 2 tests/ddp_worker.py JOB.json

JOB.json: content, cache, ckpt, out (folders), vectors {name: [100 floats]}, cache_args (for
build_cache), cfg (TrainConfig fields) and optionally die: [rank, step], where that rank kills
itself with SIGKILL right after that step (a machine that goes away). Each rank writes
out/rank{R}.npz: the flattened parameters after every step, the step losses, and how many
crops it sent through the teacher.
"""
from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

import numpy as np
import torch
from torch.distributed.elastic.multiprocessing.errors import record

from stylecam.training.dataset import build_cache
from stylecam.training.distributed import from_env, start, stop
from stylecam.training.teacher import Teacher
from stylecam.training.train import Data, TrainConfig, train


class CountingTeacher:
    """The real teacher, loaded on first use, counting the crops it stylizes."""

    def __init__(self):
        self.teacher, self.calls = None, 0

    def stylize(self, rgb, vector):
        if self.teacher is None:
            self.teacher = Teacher(threads=1)
        self.calls += 1
        return self.teacher.stylize(rgb, vector)


def flat(net: torch.nn.Module) -> np.ndarray:
    return torch.cat([p.detach().reshape(-1) for p in net.parameters()]).cpu().numpy()


@record
def main(job_file: str) -> None:
    torch.set_num_threads(1)
    job = json.loads(Path(job_file).read_text())
    ranks = start(from_env(required=True), torch.device("cpu"))
    try:
        teacher = CountingTeacher()
        vectors = {n: np.asarray(v, np.float32) for n, v in job["vectors"].items()}
        root = build_cache(Path(job["content"]), Path(job["cache"]), vectors, teacher, ranks=ranks,
                           **job["cache_args"])
        params, losses = [], []

        def on_step(done, net, step_losses):
            params.append(flat(net))
            losses.append([step_losses[k] for k in ("distill", "style", "synthetic", "video")])
            if job.get("die") == [ranks.rank, done]:
                os.kill(os.getpid(), signal.SIGKILL)

        vec = torch.from_numpy(np.stack(list(vectors.values())))
        train(Data(root, list(vectors)), vec, Path(job["ckpt"]), TrainConfig(**job["cfg"]),
              ranks=ranks, on_step=on_step)
        np.savez(Path(job["out"]) / f"rank{ranks.rank}.npz", params=np.stack(params),
                 losses=np.array(losses), teacher_calls=teacher.calls, root=str(root))
    finally:
        stop(ranks)


if __name__ == "__main__":
    main(sys.argv[1])
