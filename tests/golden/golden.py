"""Shared writer for golden cases (see make_golden.py)."""
import json
import pathlib
import shutil

import numpy as np
import torch


class Writer:
    def __init__(self, root: pathlib.Path):
        self.root = root
        if root.exists():
            shutil.rmtree(root)
        root.mkdir(parents=True)
        self.count = 0
        self.bytes = 0

    def case(self, name: str, config: dict, tensors: dict):
        """config: JSON-able parameters; tensors: name -> torch.Tensor or np.ndarray."""
        d = self.root / name
        d.mkdir()
        (d / "config.json").write_text(json.dumps(config, indent=1, sort_keys=True) + "\n")
        for key, t in tensors.items():
            if isinstance(t, torch.Tensor):
                t = t.detach().cpu().numpy()
            # np.array keeps 0-dimensional tensors 0-dimensional (ascontiguousarray would not).
            arr = np.array(t, dtype=np.float32, order="C")
            np.save(d / f"{key}.npy", arr)
            self.bytes += arr.nbytes + 128
        self.count += 1
