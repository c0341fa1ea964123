"""Model builders: forward shapes on digits- and CIFAR-sized input, official macro sizes."""
from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from nasbench_lab import models  # noqa: E402
from nasbench_lab.models.nb101 import vertex_channels  # noqa: E402
from nasbench_lab.spaces import darts, nb101 as nb101_space, nb201  # noqa: E402

from _cells import one_thread  # noqa: E402,F401


def nb101(matrix, ops):
    return nb101_space.Cell(np.array(matrix, dtype=np.int8), tuple(ops))


def genotype(normal, reduce):
    return darts.Genotype(tuple(normal), tuple(reduce))


C3, C1, MP = "conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3"
NB101_CELLS = {
    # a 7-vertex cell with an input->output edge and three vertices feeding the output
    "seven": nb101([[0, 1, 1, 0, 0, 1, 0], [0, 0, 0, 1, 0, 0, 0], [0, 0, 0, 0, 1, 0, 0],
                    [0, 0, 0, 0, 0, 1, 0], [0, 0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 0, 1],
                    [0, 0, 0, 0, 0, 0, 0]], ["input", C3, MP, C1, C3, C1, "output"]),
    "input-output only": nb101([[0, 1], [0, 0]], ["input", "output"]),
    "one maxpool": nb101([[0, 1, 0], [0, 0, 1], [0, 0, 0]], ["input", MP, "output"]),
}
NB201_CELLS = {k: nb201.Cell.from_string(v) for k, v in {
    "mixed": "|nor_conv_3x3~0|+|none~0|skip_connect~1|+|avg_pool_3x3~0|none~1|nor_conv_1x1~2|",
    "all none": "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|",
    "all conv3x3": "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|",
}.items()}
DARTS_V2 = genotype(
    [("sep_conv_3x3", 0), ("sep_conv_3x3", 1), ("sep_conv_3x3", 0), ("sep_conv_3x3", 1),
     ("sep_conv_3x3", 1), ("skip_connect", 0), ("skip_connect", 0), ("dil_conv_3x3", 2)],
    [("max_pool_3x3", 0), ("max_pool_3x3", 1), ("skip_connect", 2), ("max_pool_3x3", 1),
     ("max_pool_3x3", 0), ("skip_connect", 2), ("skip_connect", 2), ("max_pool_3x3", 1)])
DARTS_ALL_OPS = genotype(
    [("avg_pool_3x3", 0), ("dil_conv_5x5", 1), ("sep_conv_5x5", 2), ("skip_connect", 0),
     ("max_pool_3x3", 3), ("dil_conv_3x3", 1), ("sep_conv_3x3", 4), ("skip_connect", 2)],
    [("sep_conv_5x5", 0), ("dil_conv_5x5", 1), ("avg_pool_3x3", 2), ("dil_conv_3x3", 0),
     ("skip_connect", 1), ("sep_conv_3x3", 3), ("max_pool_3x3", 4), ("skip_connect", 0)])

ARCHS = ([pytest.param(a, id=f"nb101 {k}") for k, a in NB101_CELLS.items()]
         + [pytest.param(a, id=f"nb201 {k}") for k, a in NB201_CELLS.items()]
         + [pytest.param(DARTS_V2, id="darts v2"), pytest.param(DARTS_ALL_OPS, id="darts all ops")])


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("shape", [(1, 8, 8), (3, 32, 32)], ids=["digits", "cifar"])
def test_forward_shape(arch, shape):
    net = models.build_model(arch, num_classes=10, in_channels=shape[0])
    out = net(torch.randn(3, *shape))
    assert out.shape == (3, 10)
    assert torch.isfinite(out).all()
    out.sum().backward()  # the graph is differentiable end to end


@pytest.mark.parametrize("shape", [(1, 7, 7), (3, 9, 11)])
def test_odd_input_sizes(shape):
    for arch in (NB101_CELLS["seven"], NB201_CELLS["mixed"], DARTS_ALL_OPS):
        assert models.build_model(arch, 4, shape[0])(torch.randn(2, *shape)).shape == (2, 4)


def test_sizes_scale_the_network():
    small = models.count_parameters(models.build_model(NB201_CELLS["all conv3x3"], 10, 1))
    wider = models.count_parameters(models.build_model(NB201_CELLS["all conv3x3"], 10, 1, channels=32))
    deeper = models.count_parameters(models.build_model(NB201_CELLS["all conv3x3"], 10, 1, cells_per_stage=3))
    assert small < deeper < wider
    assert len(models.build_model(DARTS_V2, 10, 1, stages=2, cells_per_stage=2).cells) == 2 + 1 + 2
    with pytest.raises(ValueError, match=">= 1"):
        models.build_model(DARTS_V2, 10, 1, cells_per_stage=0)


def test_nb101_parameters_match_the_official_benchmark(shared):
    """At the official size (128 stem channels, 3 stacks of 3 cells, CIFAR input) the
    parameter count equals NAS-Bench-101's ``trainable_parameters`` exactly."""
    path = shared("nasbench101", "nb101_sample_1k.jsonl")
    with open(path) as f:
        records = [json.loads(line) for _, line in zip(range(25), f)]
    for r in records:
        net = models.build_model(nb101(r["matrix"], r["ops"]), 10, 3, channels=128, stages=3,
                                 cells_per_stage=3)
        assert models.count_parameters(net) == r["trainable_parameters"], r["hash"]


def test_darts_v2_official_size_has_about_3_3m_parameters():
    # DARTS (second order) on CIFAR-10: 3.3M parameters reported (20 cells, C=36)
    net = models.build_model(DARTS_V2, 10, 3, channels=36, stages=3, cells_per_stage=6)
    assert len(net.cells) == 20
    assert 3.25e6 < models.count_parameters(net) < 3.4e6


def test_vertex_channels_follow_the_official_split():
    m = np.array([[0, 1, 1, 1, 0], [0, 0, 0, 0, 1], [0, 0, 0, 0, 1], [0, 0, 0, 0, 1],
                  [0, 0, 0, 0, 0]])
    assert vertex_channels(64, 128, m) == [64, 43, 43, 42, 128]
    # a vertex not feeding the output takes the largest channels of its successors
    chain = np.array([[0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1], [0, 0, 0, 0]])
    assert vertex_channels(16, 32, chain) == [16, 32, 32, 32]


def test_nb101_cell_concatenates_and_adds_the_input_projection():
    net = models.build_model(NB101_CELLS["seven"], 10, 1, channels=8)
    first = net.features[1]  # the first cell of the first stack
    # vertices 4 and 5 feed the output: 8 channels split 4 + 4; inner vertices take 4 too;
    # the input feeds vertices 1, 2, 5 through 1x1 projections
    assert first.ch == [8, 4, 4, 4, 4, 4, 8]
    assert set(first.proj) == {"1", "2", "5"}
    assert first(torch.randn(2, 8, 8, 8)).shape == (2, 8, 8, 8)

    skip = nb101([[0, 1, 1], [0, 0, 1], [0, 0, 0]], ["input", C3, "output"])
    cell = models.build_model(skip, 10, 1, channels=8).features[1].eval()
    x = torch.randn(2, 8, 8, 8)
    with torch.no_grad():
        both = cell(x)
        vertex = cell.ops["1"](cell.proj["1"](x))
        projection = cell.proj["2"](x)
    torch.testing.assert_close(both, vertex + projection)


def test_nb201_none_edges_are_dropped():
    net = models.build_model(NB201_CELLS["all none"], 10, 1)
    cells = [m for m in net.modules() if type(m).__name__ == "NB201Cell"]
    assert len(cells) == 3 and all(len(c.ops) == 0 for c in cells)
    x = torch.randn(2, 16, 4, 4)
    assert torch.equal(cells[0](x), torch.zeros_like(x))


def test_mlp_chain_uses_the_chain_module():
    from nasbench_lab.spaces.mlp import Chain

    chain = Chain([(8, "Tanh"), (4, "ReLU")])
    net = models.build_model(chain, num_classes=2)
    assert net(torch.randn(5, 2)).shape == (5, 2)
    assert models.count_parameters(net) == chain.parameters
    plain = SimpleNamespace(layers=((16, "LeakyReLU"),))
    assert models.build_model(plain, num_classes=2)(torch.randn(3, 2)).shape == (3, 2)


def test_duck_typed_architectures_and_cell_strings_build():
    """Anything with the contract's attributes builds; NB201 official strings too."""
    cell = NB101_CELLS["seven"]
    duck = SimpleNamespace(matrix=np.asarray(cell.matrix), ops=tuple(cell.ops))
    with torch.random.fork_rng():
        torch.manual_seed(0)
        a = models.build_model(cell, 10, 1)
        torch.manual_seed(0)
        b = models.build_model(duck, 10, 1)
        torch.manual_seed(0)
        c = models.build_model(NB201_CELLS["mixed"].to_string(), 10, 1)
        torch.manual_seed(0)
        d = models.build_model(NB201_CELLS["mixed"], 10, 1)
    x = torch.randn(2, 1, 8, 8)
    torch.testing.assert_close(a(x), b(x))
    torch.testing.assert_close(c(x), d(x))


def test_bad_input_raises_clear_errors():
    with pytest.raises(TypeError, match="no model builder"):
        models.build_model(object())
    bad_op = SimpleNamespace(matrix=np.array([[0, 1, 0], [0, 0, 1], [0, 0, 0]]),
                             ops=("input", "conv5x5", "output"))
    with pytest.raises(ValueError, match="unknown op 'conv5x5'"):
        models.build_model(bad_op)
    with pytest.raises(ValueError, match="6 edges"):
        models.build_model("|nor_conv_3x3~0|+|none~0|")
    with pytest.raises(ValueError, match="allowed 0..2"):
        bad = SimpleNamespace(normal=DARTS_V2.normal[:2] + (("sep_conv_3x3", 3),) + DARTS_V2.normal[3:],
                              reduce=DARTS_V2.reduce)
        models.build_model(bad)
