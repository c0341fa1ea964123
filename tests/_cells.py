"""Shared test set-up for the cell trainers, model builders and proxies.

``MIXED_NB201``, ``NB101_CELL`` and ``DARTS_CELL``: one small cell per family; ``one_thread``:
an autouse fixture (import it into a test module) that runs each test on one torch thread.
"""
from __future__ import annotations

import numpy as np
import pytest

from nasbench_lab.device import torch_threads
from nasbench_lab.spaces import darts, nb101, nb201

MIXED_NB201 = nb201.Cell.from_string(
    "|nor_conv_3x3~0|+|none~0|skip_connect~1|+|avg_pool_3x3~0|none~1|nor_conv_1x1~2|")
NB101_CELL = nb101.Cell(np.array([[0, 1, 1, 0], [0, 0, 1, 1], [0, 0, 0, 1], [0, 0, 0, 0]]),
                        ("input", "conv3x3-bn-relu", "maxpool3x3", "output"))
DARTS_CELL = darts.Genotype(
    normal=(("sep_conv_3x3", 0), ("skip_connect", 1), ("dil_conv_3x3", 0), ("avg_pool_3x3", 2),
            ("sep_conv_5x5", 1), ("skip_connect", 3), ("max_pool_3x3", 4), ("dil_conv_5x5", 0)),
    reduce=(("max_pool_3x3", 0), ("sep_conv_3x3", 1), ("skip_connect", 2), ("avg_pool_3x3", 1),
            ("dil_conv_3x3", 0), ("skip_connect", 2), ("sep_conv_3x3", 3), ("max_pool_3x3", 1)))


@pytest.fixture(autouse=True)
def one_thread():
    with torch_threads(1):
        yield
