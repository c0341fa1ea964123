"""Each figure function draws the expected artists from small frames."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.collections import PathCollection, PolyCollection  # noqa: E402
from matplotlib.container import ErrorbarContainer  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from nasbench_lab.analysis import figures, stats  # noqa: E402


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def _episodes(n=400, agents=("random_search", "local_search"), seed=0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    parts = []
    for k, a in enumerate(agents):
        init = rng.uniform(0.80, 0.94, n)
        final = np.clip(init + rng.normal(0.01 * k, 0.02, n), 0, 1)
        final[:5] = init[:5] + 0.3 * (k + 1) * np.sign(rng.normal(size=5))  # outliers
        keys = np.where(rng.random(n) < 0.3, "best", [f"k{i}" for i in range(n)])
        parts.append(pd.DataFrame(dict(benchmark="b", agent=a, seed=0, set=0, episode=np.arange(n),
                                       initial_key="x", final_key=keys, initial_validation=init - 0.01,
                                       initial_test=init, final_validation=final - 0.01, final_test=final,
                                       steps=3, queries=1, terminated=True, truncated=False)))
    return pd.concat(parts, ignore_index=True)


def _queries(agents=("random_search", "random_walk"), runs=6, length=30, seed=0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for a in agents:
        for r in range(runs):
            v = rng.uniform(0.85, 0.95, length)
            rows.append(pd.DataFrame(dict(benchmark="b", agent=a, seed=0, set=0, run=r,
                                          query=np.arange(1, length + 1), validation=v, test=v + 0.01)))
    return stats.add_best_so_far(pd.concat(rows, ignore_index=True))


def _bars(ax):
    return [p for p in ax.patches if isinstance(p, Rectangle)]


def test_shaping_histogram_two_distributions_log_y():
    acc = np.random.default_rng(0).beta(20, 2, 2000)
    fig = figures.shaping_histogram(acc, alpha=6, bins=40)
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    assert len(_bars(ax)) == 80  # 40 bins before and 40 after shaping
    heights = np.array([p.get_height() for p in _bars(ax)])
    assert heights[:40].sum() == heights[40:].sum() == 2000
    assert len(ax.get_lines()) == 2  # the two means


def test_shaped_maps_unit_interval_and_keeps_order():
    x = np.linspace(0, 1, 11)
    y = figures.shaped(x, 6)
    assert y[0] == pytest.approx(0) and y[-1] == pytest.approx(1)
    assert np.all(np.diff(y) > 0)
    np.testing.assert_allclose(y, (np.exp(6 * x) - 1) / (np.exp(6) - 1))
    np.testing.assert_array_equal(figures.shaped(x, None), x)


def test_shaping_curves_one_line_per_alpha():
    fig = figures.shaping_curves((None, 2, 6, 32), marks=[0.9])
    lines = fig.axes[0].get_lines()
    assert len(lines) == 5  # 4 curves + 1 mark
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels[0] == "no shaping" and "32" in labels[-1]


def test_sampler_histograms_bins_per_sampler():
    frame = pd.DataFrame(dict(sampler=["ours"] * 6 + ["bananas"] * 4,
                              vertices=[2, 3, 4, 5, 6, 7, 7, 7, 6, 7], edges=[1, 2, 3, 4, 5, 6, 9, 8, 7, 9]))
    fig = figures.sampler_histograms(frame)
    ax_v, ax_e = fig.axes[:2]
    assert ax_v.get_yscale() == "log" and ax_e.get_yscale() == "log"
    assert len(_bars(ax_v)) == 2 * 6  # 6 vertex counts x 2 samplers
    total = {s: 0 for s in ("ours", "bananas")}
    for c in ax_v.containers:
        total[c.get_label().split(" (")[0]] += sum(p.get_height() for p in c)
    assert total == {"ours": 6, "bananas": 4}
    with pytest.raises(ValueError, match="lacks columns"):
        figures.sampler_histograms(frame.drop(columns="edges"))


def test_initial_vs_improvement_scatter_diagonals_and_impossible_region():
    ep = _episodes()
    fig = figures.initial_vs_improvement(ep, levels=(0.85, 0.9, 0.95))
    axes = [a for a in fig.axes if a.get_visible()]
    assert len(axes) == 2
    for ax in axes:
        scat = [c for c in ax.collections if isinstance(c, PathCollection)]
        assert len(scat) == 1 and len(scat[0].get_offsets()) == 400
        dashed = [ln for ln in ax.get_lines() if ln.get_linestyle() == "--"]
        assert len(dashed) == 3
        for ln, level in zip(dashed, (0.85, 0.9, 0.95)):
            x, y = ln.get_data()
            np.testing.assert_allclose(np.asarray(x) + np.asarray(y), level)  # constant final accuracy
        assert any(isinstance(c, PolyCollection) for c in ax.collections)  # the > 100% region


def test_improvement_histograms_median_intervals_outliers_skew():
    ep = _episodes()
    fig = figures.improvement_histograms(ep, clip=0.125, bins=25)
    ax = fig.axes[0]
    d = (ep.loc[ep.agent == "random_search", "final_test"] - ep.loc[ep.agent == "random_search", "initial_test"]).to_numpy()
    inside = np.abs(d) <= 0.125
    assert len(_bars(ax)) == 25
    assert sum(p.get_height() for p in _bars(ax)) == pytest.approx(inside.mean())  # shares of all episodes
    vlines = [ln for ln in ax.get_lines() if len(set(np.atleast_1d(ln.get_xdata()))) == 1]
    solid = [ln for ln in vlines if ln.get_linestyle() == "-"]
    assert len(solid) == 1 and solid[0].get_xdata()[0] == pytest.approx(np.median(d))
    assert len([ln for ln in vlines if ln.get_linestyle() != "-"]) == 6  # 3 intervals x 2 edges
    legend = " ".join(t.get_text() for t in ax.get_legend().get_texts())
    assert f"skew {stats.skew(d):+.3f}" in legend
    assert f"{int((~inside).sum())} (" in legend  # outliers counted, not binned


def test_local_optimum_draws_with_space_and_share():
    ep = _episodes()

    class Space:
        drawn = []

        def from_key(self, key):
            return ("arch", key)

        def draw(self, arch, ax=None):
            self.drawn.append(arch)
            ax.plot([0, 1], [0, 1])

    space = Space()
    fig = figures.local_optimum(ep, space=space)
    share = (ep.loc[ep.agent == "local_search", "final_key"] == "best").mean()
    assert space.drawn == [("arch", "best")]
    assert f"{100 * share:.1f}%" in fig.axes[0].get_title()
    assert len(_bars(fig.axes[1])) == 5
    # without a drawing space the key is written out
    fig = figures.local_optimum(ep, space=None)
    assert any(t.get_text() == "best" for t in fig.axes[0].texts)
    with pytest.raises(ValueError, match="no episodes"):
        figures.local_optimum(ep, agent="apex")


def test_local_optimum_with_real_chain_space():
    from nasbench_lab import spaces

    space = spaces.get("mlp")
    ep = _episodes()
    ep["final_key"] = np.where(np.arange(len(ep)) % 3 == 0, "16-ReLU", "8-Tanh|8-ReLU")
    fig = figures.local_optimum(ep, space=space)
    assert len(fig.axes[0].patches) == 4  # input, two layers, output boxes
    assert "66.8% of 400 episodes" in fig.axes[0].get_title()  # 267 of the 400 local-search episodes


def test_best_so_far_curves_bands_lines_and_published_errorbars():
    q = _queries()
    published = pd.DataFrame(dict(algorithm=["NAO", "SemiNAS"], budget=[20, 30], mean=[0.93, 0.94],
                                  ci_low=[0.92, 0.93], ci_high=[0.94, 0.95]))
    fig = figures.best_so_far_curves(q, published=published, n_resamples=200)
    ax = fig.axes[0]
    bands = [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert len(bands) == 2
    errbars = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    assert len(errbars) == 2
    lines = [ln for ln in ax.get_lines() if ln.get_label().startswith("Random")]
    assert [ln.get_label() for ln in lines] == ["Random Search (6 runs)", "Random Walk (6 runs)"]
    summary = stats.curve_summary(q, n_resamples=200)
    rs = summary[summary.agent == "random_search"]
    np.testing.assert_allclose(lines[0].get_ydata(), rs["mean"])
    # agents keep their colour on every figure
    assert lines[0].get_color() == figures.agent_colour("random_search")


def test_neighbours_vs_accuracy_reports_r_and_tau():
    rng = np.random.default_rng(0)
    nb = rng.integers(5, 40, 500)
    acc = 0.9 + 0.001 * nb + rng.normal(0, 0.01, 500)
    fig = figures.neighbours_vs_accuracy(nb, acc)
    corr = stats.correlations(nb, acc)
    title = fig.axes[0].get_title()
    assert f"r = {corr.pearson_r:.3f}" in title and f"τ = {corr.kendall_tau:.3f}" in title
    assert len(fig.axes[0].collections[0].get_offsets()) == 500


def test_throughput_log_log_one_line_per_group():
    frame = pd.DataFrame(dict(benchmark=["nb101"] * 3 + ["nb301"] * 3, device="cpu", n_envs=[1, 8, 64] * 2,
                              steps_per_s=[1e3, 7e3, 4e4, 10, 70, 400]))
    fig = figures.throughput(frame)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert len(ax.get_lines()) == 2
    assert list(ax.get_lines()[1].get_ydata()) == [10, 70, 400]
    # the env's own column name works as well
    fig = figures.throughput(frame.rename(columns={"steps_per_s": "steps_per_second"}))
    assert len(fig.axes[0].get_lines()) == 2


def test_training_curves_smoothed_mean_and_seed_band():
    steps = np.arange(1, 51)
    curves = pd.concat([pd.DataFrame(dict(setting=s, seed=k, step=steps, value=0.5 + 0.01 * steps * (i + 1) + k * 0.02))
                        for i, s in enumerate(["gamma=0.9", "gamma=0.99"]) for k in range(2)])
    fig = figures.training_curves(curves, window=10)
    ax = fig.axes[0]
    lines = ax.get_lines()
    assert [ln.get_label() for ln in lines] == ["gamma=0.9", "gamma=0.99"]
    mean = curves[curves.setting == "gamma=0.9"].groupby("step")["value"].mean().to_numpy()
    np.testing.assert_allclose(lines[0].get_ydata(), stats.moving_average(mean, 10))
    assert len([c for c in ax.collections if isinstance(c, PolyCollection)]) == 2


def test_save_writes_png_and_pdf(tmp_path):
    fig = figures.shaping_curves((2, 6))
    written = figures.save(fig, "fig04", out=tmp_path)
    assert [p.name for p in written] == ["fig04.png", "fig04.pdf"]
    assert written[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert written[1].read_bytes()[:5] == b"%PDF-"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left


def _main_job_figures() -> dict[int, set[str]]:
    """Paper figure number -> the ``figures`` functions the main job saves under that
    number (``ctx.save_fig(figures.f(...), "figNN_...")``, read from its source)."""
    import ast
    import re
    from pathlib import Path

    import nasbench_lab

    source = (Path(nasbench_lab.__file__).parent / "main_job.py").read_text(encoding="utf-8")
    out: dict[int, set[str]] = {}
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr == "save_fig" and len(node.args) == 2):
            continue
        fig, name = node.args
        head = name.values[0] if isinstance(name, ast.JoinedStr) and name.values else name
        m = re.match(r"fig(\d\d)_", head.value) if isinstance(head, ast.Constant) and isinstance(head.value, str) else None
        if (m and isinstance(fig, ast.Call) and isinstance(fig.func, ast.Attribute)
                and isinstance(fig.func.value, ast.Name) and fig.func.value.id == "figures"):
            out.setdefault(int(m.group(1)), set()).add(fig.func.attr)
    return out


def test_figures_registry_covers_paper_figures():
    """The registry names every data figure of the paper (Figs. 1, 2 and 6 are diagrams:
    operations-on-nodes, vertex removal, the agent's network), and for every figure the
    main job saves as ``figNN_...`` it draws with exactly the registered function."""
    assert sorted(figures.FIGURES) == [n for n in range(3, 20) if n != 6]
    drawn = _main_job_figures()
    assert {3, 4, 5, 7, 8, 9, 10, 11, 16} <= set(drawn), sorted(drawn)  # the reader finds them
    wrong = {n: (sorted(fs), figures.FIGURES[n].__name__) for n, fs in drawn.items()
             if fs != {figures.FIGURES[n].__name__}}
    assert not wrong, f"figure number -> (main job draws, registry says): {wrong}"


def test_anytime_ranking_draws_one_line_per_strategy():
    from nasbench_lab.analysis import figures as figs

    ranks = pd.DataFrame({"agent": ["random_search"] * 3 + ["tpe"] * 3, "query": [1, 2, 3] * 2,
                          "mean_rank": [1.5, 1.8, 1.9, 1.5, 1.2, 1.1], "n_pairs": 10})
    fig = figs.anytime_ranking(ranks)
    ax = fig.axes[0]
    assert [line.get_label() for line in ax.lines] == ["Random Search", "TPE"]
    assert ax.yaxis_inverted() and "10 paired runs" in ax.get_title()
