"""One-shot strategies (``nasbench_lab.oneshot``): super-net primitives and the five searches.

Every search here is tiny (one or two epochs of one or two minibatches, narrow
super-nets) so that the file runs quickly on a CPU.
"""
from __future__ import annotations

import dataclasses
import functools

import numpy as np
import pytest
import torch

from nasbench_lab import oneshot
from nasbench_lab.models import nb201 as _models_nb201
from nasbench_lab.benchmarks.data import cached_dataset
from nasbench_lab.oneshot.supernet import (MODES, DartsSuperNet, DartsSuperNetConfig, InputChoice, MixedOp,
                                           NB201SuperNet, NB201SuperNetConfig, build_supernet)
from nasbench_lab.oneshot.training import EpochBatches
from nasbench_lab.device import torch_threads
from nasbench_lab.spaces.darts import DartsSpace, Genotype
from nasbench_lab.spaces.nb201 import Cell, NB201Space

TINY = dict(max_steps_per_epoch=1, batch_size=16)
SPACES = ("nb201", "darts")


def _options(name: str, space: str) -> dict:
    opts = dict(TINY)
    if space == "darts":
        opts["channels"] = 2
    if name == "random_one_shot":
        opts.update(search_budget=3, population=2, log_paths=1)
    if name == "gumbel_darts":
        opts["anneal_epochs"] = 3  # a schedule independent of max_epochs, for the resume test
    return opts


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny networks run fastest on one torch thread (searches set it themselves)."""
    with torch_threads(1):
        yield


@functools.lru_cache(maxsize=None)
def _run(name: str, space: str, max_epochs: int = 1, seed: int = 0):
    return oneshot.search(name, space, max_epochs=max_epochs, seed=seed, **_options(name, space))


# -- the registry and argument checks ----------------------------------------------------
def test_names():
    assert oneshot.names() == ["darts", "gumbel_darts", "enas", "random_one_shot", "proxyless"]


def test_unknown_name_space_and_option_raise_value_error():
    with pytest.raises(ValueError, match="darts, gumbel_darts, enas, random_one_shot, proxyless"):
        oneshot.search("nope")
    with pytest.raises(ValueError, match="nb201, darts"):
        oneshot.search("darts", space="nb101")
    with pytest.raises(ValueError, match="unknown options"):
        oneshot.search("darts", not_an_option=1)


# -- every strategy on both spaces ---------------------------------------------------------
@pytest.mark.parametrize("space", SPACES)
@pytest.mark.parametrize("name", oneshot.names())
def test_search_exports_a_valid_architecture(name, space):
    r = _run(name, space)
    sp = r.space
    assert isinstance(r.arch, Cell if space == "nb201" else Genotype)
    assert sp.is_valid(r.arch) and sp.from_key(sp.key(r.arch)) == r.arch
    assert list(r.log["epoch"]) == [1]
    assert {"train_loss", "train_acc", "val_acc"} <= set(r.log.columns)
    assert 0.0 <= r.log["val_acc"].iloc[0] <= 1.0
    assert 0.0 <= r.supernet.evaluate(r.arch) <= 1.0
    if name in ("darts", "gumbel_darts", "proxyless"):
        probs = r.log.filter(like="alpha/")
        n_ops = 5 if space == "nb201" else 8
        assert probs.shape[1] == len(r.supernet.probabilities()) * (6 if space == "nb201" else 14) * n_ops
    if space == "darts":
        assert all(op != "none" for cell in (r.arch.normal, r.arch.reduce) for op, _ in cell)


@pytest.mark.parametrize("name", oneshot.names())
def test_same_seed_same_export_and_log(name):
    a = _run(name, "nb201", max_epochs=2)
    b = oneshot.search(name, "nb201", max_epochs=2, seed=0, **_options(name, "nb201"))
    assert a.arch == b.arch
    assert a.log.equals(b.log)
    assert len(a.log) == 2


def test_another_seed_gives_another_run():
    a, b = _run("darts", "nb201", max_epochs=2), _run("darts", "nb201", max_epochs=2, seed=1)
    assert not a.log.equals(b.log)


def test_global_rng_state_is_unchanged():
    torch.manual_seed(123)
    state = torch.random.get_rng_state()
    oneshot.search("enas", "nb201", max_epochs=1, **TINY)
    assert torch.equal(state, torch.random.get_rng_state())


@pytest.mark.parametrize("name,space", [(n, "nb201") for n in oneshot.names()] + [("enas", "darts")])
def test_resume_from_checkpoint_equals_uninterrupted(name, space, tmp_path):
    opts = _options(name, space)
    full = _run(name, space, max_epochs=2) if space == "nb201" else oneshot.search(name, space, max_epochs=2, **opts)
    first = oneshot.search(name, space, max_epochs=1, checkpoint_dir=tmp_path, **opts)
    assert (tmp_path / "last.ckpt").exists() and len(first.log) == 1
    resumed = oneshot.search(name, space, max_epochs=2, checkpoint_dir=tmp_path, **opts)
    assert resumed.arch == full.arch
    assert resumed.log.equals(full.log)


def test_darts_second_order_runs():
    r = oneshot.search("darts", "nb201", max_epochs=1, second_order=True, **TINY)
    assert NB201Space().is_valid(r.arch)
    assert r.log.filter(like="alpha/").notna().all(axis=None)


def test_splits_object_with_flat_images_is_accepted():
    d = cached_dataset("digits")
    flat = dataclasses.replace(d, x_train=d.x_train.reshape(len(d.x_train), -1),
                               x_val=d.x_val.reshape(len(d.x_val), -1), x_test=d.x_test.reshape(len(d.x_test), -1))
    r = oneshot.search("random_one_shot", "nb201", data=flat, max_epochs=1, **_options("random_one_shot", "nb201"))
    assert r.supernet.data.x_train.shape[1:] == (1, 8, 8)


# -- primitives ---------------------------------------------------------------------------
def _mixed(c=3):
    names = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
    from nasbench_lab.oneshot.supernet import _nb201_op

    return MixedOp(names, lambda n: _nb201_op(n, c))


@pytest.mark.parametrize("mode", MODES)
def test_mixed_op_modes_shapes_and_gradients(mode):
    torch.manual_seed(0)
    op = _mixed()
    x = torch.randn(2, 3, 4, 4)
    alpha = torch.zeros(5, requires_grad=True)
    out = op(x, mode, alpha, index=3 if mode == "path" else None, generator=torch.Generator().manual_seed(1))
    assert out.shape == x.shape
    out.square().sum().backward()
    if mode == "path":
        assert alpha.grad is None
    else:
        assert alpha.grad is not None and alpha.grad.shape == (5,)


def test_weighted_mode_with_one_hot_alpha_equals_the_single_op():
    torch.manual_seed(0)
    op = _mixed().eval()
    x = torch.randn(2, 3, 4, 4)
    for k in range(5):
        alpha = torch.full((5,), -1e9)
        alpha[k] = 0.0
        torch.testing.assert_close(op(x, "weighted", alpha), op.ops[k](x))
        torch.testing.assert_close(op(x, "path", index=k), op.ops[k](x))


def test_gumbel_and_binary_modes_run_one_op_reproducibly():
    op = _mixed().eval()
    x = torch.randn(1, 3, 4, 4)
    alpha = torch.tensor([0.0, 0.0, 0.0, 5.0, 0.0])
    for mode in ("gumbel", "binary"):
        a = op(x, mode, alpha, generator=torch.Generator().manual_seed(7))
        b = op(x, mode, alpha, generator=torch.Generator().manual_seed(7))
        torch.testing.assert_close(a, b)
        assert any(torch.allclose(a, o(x)) for o in op.ops)


def test_input_choice_sums_the_chosen_edges():
    edges = [MixedOp(("skip_connect", "avg_pool_3x3"), lambda n: _models_nb201._edge_op(n, 2)) for _ in range(3)]
    node = InputChoice(edges, n_chosen=2)
    states = [torch.full((1, 2, 3, 3), float(v)) for v in (1, 2, 4)]
    torch.testing.assert_close(node(states, chosen=[(0, 0), (2, 0)]), states[0] + states[2])
    torch.testing.assert_close(node(states, "weighted", torch.zeros(3, 2)), sum(states))
    with pytest.raises(ValueError):
        node(states, chosen=[(1, 0), (1, 1)])


def test_parameters_are_split_into_arch_and_weights():
    for net in (NB201SuperNet(NB201SuperNetConfig(channels=2, in_channels=1)),
                DartsSuperNet(DartsSuperNetConfig(channels=2, in_channels=1))):
        arch = {id(p) for p in net.arch_parameters()}
        weights = {id(p) for p in net.weight_parameters()}
        assert arch and weights and not arch & weights
        assert arch | weights == {id(p) for p in net.parameters()}


def test_evaluate_is_deterministic_and_leaves_the_net_unchanged():
    d = cached_dataset("digits")
    torch.manual_seed(0)
    net = build_supernet(DartsSpace(), DartsSuperNetConfig(channels=2), data=d)
    arch = net.sample(torch.Generator().manual_seed(3))
    before = {k: v.clone() for k, v in net.state_dict().items()}
    a, b = net.evaluate(arch), net.evaluate(arch)
    assert a == b
    assert net.training and net.state.mode == "weighted"
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    assert net.evaluate(arch, "test") == net.evaluate(arch, (d.x_test, d.y_test))


def test_darts_derive_never_exports_none():
    net = DartsSuperNet(DartsSuperNetConfig(channels=2, in_channels=1))
    with torch.no_grad():
        for a in net.arch_parameters():
            a.zero_()
            a[:, 0] = 10.0  # "none" dominates every edge
            a[3, 4] = 1.0   # node 1 (rows 2..4): its edge from source 1 stands out
    g = net.export()
    assert DartsSpace().is_valid(g)
    assert all(op != "none" for op, _ in g.normal + g.reduce)
    assert ("sep_conv_3x3", 1) in g.normal[2:4]


def test_nb201_sample_and_path_forward():
    net = NB201SuperNet(NB201SuperNetConfig(channels=2, in_channels=1))
    archs = [net.sample(torch.Generator().manual_seed(s)) for s in range(3)]
    assert archs[0] == net.sample(torch.Generator().manual_seed(0))
    assert len({a.key for a in archs}) > 1
    with net.use("path", arch=archs[0]):
        assert net(torch.zeros(2, 1, 8, 8)).shape == (2, 10)


def test_epoch_batches_depend_on_seed_and_epoch_only():
    s = EpochBatches(50, 20, batch_size=8, steps=3, seed=0)
    epoch0 = [(t.tolist(), v.tolist()) for t, v in s]
    s.set_epoch(1)
    epoch1 = [(t.tolist(), v.tolist()) for t, v in s]
    s.set_epoch(0)
    assert epoch0 == [(t.tolist(), v.tolist()) for t, v in s] != epoch1
    assert all(len(t) == 8 and len(v) == 8 for t, v in epoch0)
    assert len(EpochBatches(50, 20, batch_size=8, steps=0, seed=0)) == 6
    assert np.unique(np.concatenate([t for t, _ in EpochBatches(50, 20, 10, 0, seed=0)])).size == 50


def test_proxyless_cost_penalty_lowers_the_expected_cost():
    opts = dict(max_epochs=2, max_steps_per_epoch=2, batch_size=16, arch_lr=0.05)
    free = oneshot.search("proxyless", "nb201", **opts)
    costly = oneshot.search("proxyless", "nb201", cost_weight=50.0, **opts)
    assert costly.log["expected_cost"].iloc[-1] < free.log["expected_cost"].iloc[-1]
    table = oneshot.search("proxyless", "nb201", cost_weight=1.0, max_epochs=1, **TINY,
                           latency_table={"nor_conv_3x3": 2.0, "nor_conv_1x1": 1.0})
    assert 0.0 <= table.log["expected_cost"].iloc[0] <= 1.0


def test_darts_supernet_with_three_stages_runs_every_mode():
    net = DartsSuperNet(DartsSuperNetConfig(channels=2, stages=3, in_channels=1))
    arch = net.sample(torch.Generator().manual_seed(0))
    for mode in MODES:
        with net.use(mode, arch=arch if mode == "path" else None, generator=torch.Generator().manual_seed(0)):
            assert net(torch.zeros(2, 1, 8, 8)).shape == (2, 10)


# -- operation-level dropout on parameter-free candidates (the collapse regulariser) ----
def test_param_free_dropout_drops_only_parameter_free_outputs_and_is_seeded():
    import torch

    from nasbench_lab.models import nb201 as _models_nb201
    from nasbench_lab.oneshot.supernet import MixedOp

    op = MixedOp(("skip_connect", "nor_conv_1x1"), lambda n: _models_nb201._edge_op(n, 2))
    assert op.parameter_free == (True, False)
    x = torch.randn(2, 2, 6, 6)
    out = op(x, "path", index=0, drop=0.5, generator=torch.Generator().manual_seed(0))
    zeroed = out == 0
    assert 0.3 < zeroed.float().mean() < 0.7                     # about half the units dropped
    assert torch.allclose(out[~zeroed], 2.0 * x[~zeroed])        # the rest scaled by 1 / (1 - p)
    again = op(x, "path", index=0, drop=0.5, generator=torch.Generator().manual_seed(0))
    assert torch.equal(out, again)
    assert torch.equal(op(x, "path", index=0), x)                # drop=0: the identity
    conv = op(x, "path", index=1)
    assert torch.equal(op(x, "path", index=1, drop=0.5, generator=torch.Generator().manual_seed(0)), conv)
    with pytest.raises(ValueError, match="drop must be in"):
        op(x, "path", index=0, drop=1.0)


def test_param_free_dropout_is_validated_and_changes_a_seeded_search():
    from nasbench_lab import oneshot

    with pytest.raises(ValueError, match="param_free_dropout"):
        oneshot.search("darts", "nb201", max_epochs=1, max_steps_per_epoch=1, param_free_dropout=1.5)
    kw = dict(max_epochs=2, max_steps_per_epoch=2, seed=3, channels=4)
    plain = oneshot.search("gumbel_darts", "nb201", **kw)
    a = oneshot.search("gumbel_darts", "nb201", param_free_dropout=0.5, **kw)
    b = oneshot.search("gumbel_darts", "nb201", param_free_dropout=0.5, **kw)
    assert a.arch == b.arch and a.log.equals(b.log)
    assert not np.allclose(plain.log["train_loss"], a.log["train_loss"])


def test_enas_best_export_scores_samples_and_is_at_least_the_greedy_rollout():
    from nasbench_lab import oneshot

    with pytest.raises(ValueError, match="export must be"):
        oneshot.search("enas", "nb201", max_epochs=1, max_steps_per_epoch=1, export="sample")
    kw = dict(max_epochs=1, max_steps_per_epoch=2, seed=1, channels=4, export_samples=12)
    best = oneshot.search("enas", "nb201", export="best", **kw)
    again = oneshot.search("enas", "nb201", export="best", **kw)
    assert best.arch == again.arch
    greedy = best.module.current_arch()
    net = best.supernet
    assert net.evaluate(best.arch) >= net.evaluate(greedy)
    # the export is the arg-max of the scored candidates: no candidate scores higher
    gen = torch.Generator().manual_seed(best.module.seed + 1)
    m = best.module
    others = [m._arch(m.controller(gen, False, m._mask)[0]) for _ in range(12)]
    assert max(net.evaluate(a) for a in others) <= net.evaluate(best.arch)
