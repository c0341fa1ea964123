"""Zero-cost proxies: hand-checked kernels and sums, determinism, NB201 rank correlation."""
from __future__ import annotations

import math
import pytest

torch = pytest.importorskip("torch")

from nasbench_lab.benchmarks import proxies  # noqa: E402
from nasbench_lab.benchmarks.base import Metrics  # noqa: E402
from nasbench_lab.spaces import get as get_space, nb201  # noqa: E402
from nasbench_lab.spaces.mlp import Chain, ChainSpace  # noqa: E402

from _cells import DARTS_CELL, MIXED_NB201, NB101_CELL, one_thread  # noqa: E402,F401

NB201 = MIXED_NB201
# output node always 0 and no ReLU reads the cell input: every input gets the same codes
# after the stem, so the kernel is singular
NB201_ZERO = nb201.Cell.from_string(
    "|skip_connect~0|+|skip_connect~0|skip_connect~1|+|none~0|none~1|none~2|")
NB101, DARTS = NB101_CELL, DARTS_CELL
CHAIN = Chain([(16, "ReLU"), (16, "Tanh"), (8, "LeakyReLU")])
ARCHS = [pytest.param(a, id=i) for a, i in
         ((NB101, "nb101"), (NB201, "nb201"), (DARTS, "darts"), (CHAIN, "mlp"))]


def test_naswot_kernel_by_hand():
    lin = torch.nn.Linear(2, 2)
    with torch.no_grad():
        lin.weight.copy_(torch.eye(2))
        lin.bias.zero_()
    net = torch.nn.Sequential(lin, torch.nn.ReLU())
    x = torch.tensor([[1.0, 1.0], [1.0, -1.0], [-1.0, -1.0]])
    # codes 11, 10, 00: K = N_A - Hamming with N_A = 2
    k = proxies.naswot_kernel(net, x)
    assert k.tolist() == [[2, 1, 0], [1, 2, 1], [0, 1, 2]]
    assert proxies.naswot_score(net, x) == pytest.approx(math.log(4))
    # a repeated code makes K singular
    assert proxies.naswot_score(net, torch.tensor([[1.0, 1.0], [2.0, 3.0]])) == -math.inf


def test_synflow_by_hand():
    a = torch.nn.Linear(3, 2, bias=False)
    b = torch.nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        a.weight.copy_(torch.tensor([[1.0, -2.0, 0.5], [-1.0, 3.0, 0.0]]))
        b.weight.copy_(torch.tensor([[-2.0, 0.5]]))
    # R = sum_j |v_j| sum_i |W_ji|; each layer's sum of |theta dR/dtheta| equals R
    r = 2 * 3.5 + 0.5 * 4
    assert proxies.synflow_score(torch.nn.Sequential(a, torch.nn.ReLU(), b), (3,)) == pytest.approx(2 * r)


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("proxy", proxies.PROXIES)
def test_scores_are_finite_and_deterministic(arch, proxy):
    s0, p0 = proxies.score(arch, proxy, seed=0)
    again, _ = proxies.score(arch, proxy, seed=0)
    other, _ = proxies.score(arch, proxy, seed=1)
    assert math.isfinite(s0) and p0 > 0
    assert s0 == again
    assert s0 != other  # weights (and minibatch) come from the seed
    if proxy == "synflow":
        assert s0 > 0


def test_naswot_kernel_properties_and_batch_size():
    from nasbench_lab.benchmarks.data import load_digits
    from nasbench_lab.models import build_model

    x = torch.from_numpy(load_digits().minibatch(64, seed=0)[0])
    with torch.random.fork_rng():
        torch.manual_seed(0)
        net = build_model(NB201, 10, 1)
    k = proxies.naswot_kernel(net, x)
    n_a = k[0, 0].item()
    assert torch.equal(k, k.T) and torch.all(k.diagonal() == n_a) and torch.all(k <= n_a)
    assert n_a > 1000  # thousands of ReLU units even at the small size
    scores = [proxies.score(NB201, "naswot", batch_size=b, seed=0)[0] for b in (8, 16, 32, 64)]
    # log det grows with the batch and stays below Hadamard's bound N log N_A
    assert all(a < b for a, b in zip(scores, scores[1:]))
    assert scores[-1] < 64 * math.log(n_a)
    assert scores[-1] / 64 == pytest.approx(scores[-2] / 32, rel=0.1)


def test_degenerate_networks_score_minus_infinity():
    # a cell whose output is always zero and whose ops never see its input
    assert proxies.score(NB201_ZERO, "naswot", seed=0)[0] == -math.inf
    # K has rank <= N_A + 1: a 4-unit chain cannot separate a batch of 8
    assert proxies.score(Chain([(4, "ReLU")]), "naswot", batch_size=8, seed=0)[0] == -math.inf
    assert proxies.score(Chain([]), "naswot", seed=0)[0] == -math.inf  # no activation at all


def test_proxy_benchmark_answers_metrics():
    bench = proxies.ProxyBenchmark(get_space("nb201"), proxy="naswot", seed=0)
    m = bench.query(NB201)
    assert isinstance(m, Metrics) and math.isnan(m.validation_accuracy) and math.isnan(m.test_accuracy)
    assert m.extra["score"] == proxies.score(NB201, "naswot", seed=0)[0]
    assert m.parameters > 0 and m.training_time > 0
    batch = bench.query_batch([NB201, NB201_ZERO, NB201])
    assert batch.extra["score"][0] == batch.extra["score"][2] == m.extra["score"]
    assert batch.extra["score"][1] == -math.inf
    assert bench.queries == 4 and bench.unique_queries == 2
    assert not bench.has_test
    syn = proxies.ProxyBenchmark(ChainSpace(), proxy="synflow", seed=2)
    assert syn.query(CHAIN).extra["score"] == proxies.score(CHAIN, "synflow", seed=2)[0]
    with pytest.raises(KeyError, match="unknown proxy 'grasp'"):
        proxies.ProxyBenchmark(get_space("nb201"), proxy="grasp")
    with pytest.raises(ValueError, match="batch_size"):
        proxies.score(NB201, "naswot", batch_size=1)


@pytest.mark.slow
@pytest.mark.parametrize("proxy,floor", [("naswot", 0.45), ("synflow", 0.45)])
def test_proxies_rank_nb201_cells(shared, proxy, floor):
    """Measured on 300 cells (seed 0, digits minibatch of 64, channels 16, 1 cell per
    stage): NASWOT tau 0.572, synflow tau 0.556 against cifar10_test_200."""
    path = shared("nasbench201", "nb201_accuracies.csv.gz")
    frame, tau = proxies.proxy_correlation(proxy, n=300, seed=0, path=path)
    assert len(frame) == 300 and frame["arch"].is_unique
    assert floor < tau < 0.7
    # the always-zero cells are the worst of NB201 and must rank at the bottom
    if proxy == "naswot":
        zero = frame["score"] == -math.inf
        assert frame.loc[zero, "target"].max() < 15  # percent: chance level
