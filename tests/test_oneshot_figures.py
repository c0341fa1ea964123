"""The one-shot figures of ``analysis.figures`` (notebook 09) and ``widgets.oneshot_explorer``.

The figure tests draw synthetic ``.log`` frames (the columns ``oneshot.search`` writes);
the widget test runs two tiny searches (a few seconds on one thread).
"""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from nasbench_lab.analysis import figures  # noqa: E402

OPS = ("none", "skip_connect", "nor_conv_3x3")


def _log(prefix="alpha", edges=("0->1", "0->2", "normal/1->2"), ops=OPS, epochs=4, seed=0):
    """A log frame like ``OneShotResult.log``: per epoch one probability vector per edge."""
    rng = np.random.default_rng(seed)
    rows = []
    for e in range(1, epochs + 1):
        row = {"epoch": e, "train_loss": 2.0 / e, "train_acc": 0.1 * e, "val_acc": 0.1 * e + 0.05}
        for edge in edges:
            p = rng.dirichlet(np.ones(len(ops)))
            row.update({f"{prefix}/{edge}/{op}": float(v) for op, v in zip(ops, p)})
        rows.append(row)
    return pd.DataFrame(rows)


def _heat_axes(fig):
    return [ax for ax in fig.axes if ax.images]


def test_weight_columns_split_edge_and_choice_at_the_last_slash():
    groups = figures.arch_weight_columns(_log(edges=("normal/0->2", "0->1")))
    assert list(groups) == ["normal/0->2", "0->1"]
    assert [c for c, _ in groups["normal/0->2"]] == list(OPS)
    assert groups["0->1"][2] == ("nor_conv_3x3", "alpha/0->1/nor_conv_3x3")


def test_heatmap_has_one_panel_per_edge_with_the_probabilities_as_colours():
    log = _log(epochs=5)
    fig = figures.arch_weights_heatmap(log, title="synthetic")
    heat = _heat_axes(fig)
    assert len(heat) == 3
    assert len(fig.axes) == 3 + 1  # the panels and one shared colour bar, no empty panels
    for ax, edge in zip(heat, ("0->1", "0->2", "normal/1->2")):
        data = np.asarray(ax.images[0].get_array())
        expected = log[[f"alpha/{edge}/{op}" for op in OPS]].to_numpy().T  # ops x epochs
        assert data.shape == (len(OPS), 5)
        np.testing.assert_allclose(data, expected)
        assert [t.get_text() for t in ax.get_yticklabels()] == list(OPS)
        # the panel title names the edge and the op most probable at the last epoch
        assert ax.get_title() == f"{edge}: {OPS[int(np.argmax(expected[:, -1]))]}"
    # one colour scale for every panel
    assert len({ax.images[0].get_clim() for ax in heat}) == 1
    assert fig._suptitle.get_text() == "synthetic"
    plt.close(fig)


def test_heatmap_reads_enas_policy_columns_with_their_own_choices():
    log = _log(prefix="policy", edges=("edge 0->1", "normal node 2 input 1"), ops=("0", "1"), epochs=2)
    fig = figures.arch_weights_heatmap(log)
    heat = _heat_axes(fig)
    assert len(heat) == 2
    np.testing.assert_allclose(np.asarray(heat[1].images[0].get_array()),
                               log[["policy/normal node 2 input 1/0", "policy/normal node 2 input 1/1"]].to_numpy().T)
    assert "policy" in fig._suptitle.get_text()
    plt.close(fig)


def test_heatmap_says_why_a_log_without_weights_cannot_be_drawn():
    log = pd.DataFrame({"epoch": [1, 2], "train_loss": [1.0, 0.5], "train_acc": [0.2, 0.4], "val_acc": [0.3, 0.5]})
    with pytest.raises(ValueError, match=r"no architecture weights.*alpha/<edge>/<op>.*random_one_shot"):
        figures.arch_weights_heatmap(log)


def test_ranking_scatter_plots_the_pairs_and_states_the_correlations():
    from scipy import stats

    inherited = np.array([0.2, 0.4, 0.35, 0.8, 0.6])
    standalone = np.array([0.5, 0.7, 0.75, 0.9, 0.6])
    fig = figures.ranking_scatter(inherited, standalone)
    ax = fig.axes[0]
    np.testing.assert_allclose(ax.collections[0].get_offsets(), np.column_stack([inherited, standalone]))
    tau = stats.kendalltau(inherited, standalone).statistic
    rho = stats.spearmanr(inherited, standalone).statistic
    assert f"τ = {tau:.2f}" in ax.get_title() and f"ρ = {rho:.2f}" in ax.get_title()
    legend = " ".join(t.get_text() for t in ax.get_legend().get_texts())
    assert "5 cells" in legend and f"{tau:.2f}" in legend
    plt.close(fig)
    # given correlations are shown as given
    fig = figures.ranking_scatter(inherited, standalone, tau=0.123, rho=-0.456, title="given")
    assert fig.axes[0].get_title() == "given"
    assert "0.12" in fig.axes[0].get_legend().get_texts()[0].get_text()
    assert "-0.46" in fig.axes[0].get_legend().get_texts()[0].get_text()
    plt.close(fig)
    with pytest.raises(ValueError, match="one accuracy per cell"):
        figures.ranking_scatter([0.1, 0.2], [0.1, 0.2, 0.3])


def test_oneshot_curves_and_architectures():
    from nasbench_lab import spaces

    logs = {"a": _log(epochs=3), "b": _log(epochs=3, seed=1)}
    fig = figures.oneshot_curves(logs)
    lines = fig.axes[0].get_lines()
    assert [ln.get_label() for ln in lines] == ["a", "b"]
    np.testing.assert_allclose(lines[0].get_ydata(), logs["a"]["val_acc"])
    plt.close(fig)
    with pytest.raises(ValueError, match="no column 'tau'"):
        figures.oneshot_curves(logs, column="tau")
    space = spaces.get("nb201")
    cells = {"x": space.sample(np.random.default_rng(0)), "y": space.sample(np.random.default_rng(1))}
    fig = figures.architectures(space, cells, notes={"x": "table 90%"})
    assert len(fig.axes) == 2 and fig.axes[0].get_title().startswith("x\ntable 90%\n|")
    plt.close(fig)


def test_oneshot_explorer_switches_method_and_figure():
    pytest.importorskip("ipywidgets")
    from nasbench_lab import oneshot, widgets

    results = {n: oneshot.search(n, "nb201", max_epochs=2, max_steps_per_epoch=1, batch_size=16, channels=4)
               for n in ("darts", "random_one_shot")}
    ex = widgets.oneshot_explorer(results)
    assert list(ex.controls["method"].options) == ["darts", "random_one_shot"]
    assert list(ex.controls["figure"].options) == list(widgets.ONESHOT_FIGURES)
    assert ex.error is None and len(_heat_axes(ex.figure)) == 6  # NB201: six edges
    ex.controls["method"].value = "random_one_shot"  # SPOS logs no weights: the reason is shown
    assert isinstance(ex.error, ValueError) and "no architecture weights" in str(ex.error)
    ex.controls["figure"].value = widgets.ONESHOT_FIGURES[1]
    assert ex.error is None
    lines = {ln.get_label(): ln for ln in ex.figure.axes[0].get_lines()}
    assert set(lines) == {"darts", "random_one_shot"}
    assert lines["random_one_shot"].get_linewidth() > lines["darts"].get_linewidth()
    np.testing.assert_allclose(lines["darts"].get_ydata(), results["darts"].log["val_acc"])
    with pytest.raises(ValueError, match="no one-shot results"):
        widgets.oneshot_explorer({})
