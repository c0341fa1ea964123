"""``nasbench-lab bench apex``: Ape-X acting, learning and end-to-end training throughput.

Every figure is printed next to its ratio against the paper's training speed: 1e7 NB101
env steps in 92.6 hours on one V100, i.e. :data:`PAPER_STEPS_PER_SECOND` (about 30 env
steps/s), the reference of this section (a published number, not a run of ours).

* **acting**: env steps/s of the actors' loop (gather the observation encodings on the
  device, one forward pass of the Q-network, epsilon-greedy selection, one step of the
  batched torch env) at several batch sizes;
* **learner**: replayed samples/s of learner updates (sample from the prioritised replay,
  three forward passes, backward, Adam step, priority update);
* **end to end**: ``strategies.apex.train`` at replay ratio 1 (training intensity 1), the
  median steps/s of its log rows once learning has started.

CPU: the small preset (``ApexConfig.small``) on NAS-Bench-201 (the shared table) or, where it
is absent, NAS-Bench-Moons. GPU (when ``cuda`` is available): the paper-sized NB101 network
(``ApexConfig.paper("nb101")``) on an NB101-sized neighbour table (all 423,624 cells with
made-up accuracies: its speed does not depend on the numbers).
"""
from __future__ import annotations

import dataclasses
import time

#: the paper's training speed: 1e7 env steps in 92.6 h (§4.1.1)
PAPER_STEPS_PER_SECOND = 1e7 / (92.6 * 3600)


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def acting_steps_per_second(benchmark, config, batch: int, steps: int = 32, device: str = "cpu",
                            repeat: int = 3) -> float:
    """Median env steps/s of the actors' loop with ``batch`` environments."""
    import torch

    from ..strategies.apex import TableActors, build_network, select_actions
    from . import median_time

    cfg = dataclasses.replace(config, n_workers=1, envs_per_worker=batch, device=device)
    actors = TableActors(benchmark, batch, cfg, 0, device)
    net = build_network(actors.input_dim, cfg, 0).to(device).eval()
    gen = torch.Generator(device=device).manual_seed(0)
    eps = torch.full((batch,), 0.05, device=device)
    state = {"obs": actors.reset()}

    def run():
        obs = state["obs"]
        for _ in range(steps):
            with torch.no_grad():
                x, m = actors.decode(obs)
                a, _ = select_actions(net(x, m), m, eps, gen)
            obs = actors.step(a)[0]
        state["obs"] = obs
        _sync(device)

    run()
    return batch * steps / median_time(run, repeat=repeat)


def learner_samples_per_second(benchmark, config, device: str = "cpu", updates: int = 10, repeat: int = 3) -> float:
    """Median replayed samples/s of learner updates (batch ``config.batch_size``)."""
    import torch

    from ..strategies import apex
    from . import median_time

    cfg = dataclasses.replace(config, device=device)
    actors = apex.TableActors(benchmark, cfg.n_envs, cfg, 0, device)
    online = apex.build_network(actors.input_dim, cfg, 0).to(device)
    target = apex.build_network(actors.input_dim, cfg, 1).to(device)
    opt = torch.optim.Adam(online.parameters(), lr=cfg.lr, eps=cfg.adam_eps)
    gen = torch.Generator(device=device).manual_seed(0)
    replay = apex.PrioritizedReplay(cfg.buffer_size, cfg.per_alpha, cfg.per_beta, cfg.per_eps, device, gen)
    # fill the replay with a few batches' worth of random-policy transitions (epsilon 1)
    nstep = apex.NStep(cfg.n_step, cfg.gamma, cfg.n_envs, device)
    steps = max(cfg.n_step + 1, -(-cfg.batch_size * 4 // cfg.n_envs))
    ep_return = torch.zeros(cfg.n_envs, dtype=torch.float64, device=device)
    _, _, pending, _ = apex.rollout_fragment(actors, online, actors.reset(), nstep, torch.ones(cfg.n_envs, device=device),
                                             gen, ep_return, steps)
    batch = apex._cat(pending)
    replay.add(batch, apex.actor_priorities(online, target, actors.decode, batch, cfg))

    def run():
        for _ in range(updates):
            apex.learner_update(online, target, opt, replay, actors.decode, cfg)
        _sync(device)

    run()
    return cfg.batch_size * updates / median_time(run, repeat=repeat)


def end_to_end_steps_per_second(benchmark, config, device: str = "cpu", learning_steps: int = 20_480) -> float:
    """Median steps/s of ``train`` at replay ratio 1, over log rows after learning started."""
    from ..strategies.apex import train

    start = max(config.learning_starts, config.n_envs * config.rollout_fragment)
    report = config.n_envs * config.rollout_fragment * 2
    cfg = dataclasses.replace(config, device=device, training_intensity=1.0, learning_starts=start,
                              total_steps=start + learning_steps, report_every=report)
    log = train(benchmark, cfg, seed=0, progress=False).log
    rows = log[(log["env_steps"] > start + report) & (log["updates"] > 0)]
    if rows.empty:
        rows = log.tail(1)
    return float(rows["steps_per_second"].median())


def _benchmarks(gpu: bool):
    from ..main_job import Missing, job_benchmark

    out = {}
    try:
        out["nb201"] = job_benchmark("nb201")
    except Missing:
        out["moons"] = job_benchmark("moons")
    if gpu:
        try:
            from ..benchmarks.testing import nb101_fixture_benchmark

            out["nb101-fixture"] = nb101_fixture_benchmark()
        except Exception as e:  # noqa: BLE001 - reported as a row
            out["nb101-fixture-error"] = e
    return out


def _apex_rows(quick: bool):
    from ..device import default_device
    from ..strategies.apex import ApexConfig

    rows = []
    ratio = lambda v: v / PAPER_STEPS_PER_SECOND  # noqa: E731
    rows.append(("paper: 1e7 NB101 steps in 92.6 h (reference)", PAPER_STEPS_PER_SECOND, "steps/s", "published"))
    gpu = default_device() == "cuda"
    benches = _benchmarks(gpu)
    small = ApexConfig.small()
    plans = [(name, b, "cpu", small) for name, b in benches.items() if not name.startswith("nb101")]
    if gpu and "nb101-fixture" in benches:
        plans.append(("nb101-fixture", benches["nb101-fixture"], "cuda", ApexConfig.paper("nb101")))
        plans.append(("nb201-or-moons", plans[0][1], "cuda", small))
    elif gpu:
        rows.append(("nb101-fixture unavailable", 0.0, "", str(benches.get("nb101-fixture-error"))))
    from ..device import torch_threads

    for name, bench, device, cfg in plans:
        size = "paper-sized" if cfg.embed_dim >= 256 else "small"
        batches = (64, 512) if quick else ((64, 256, 1024, 4096) if device == "cpu" else (256, 1024, 4096, 16384))
        with torch_threads(cfg.torch_threads if device == "cpu" else None):
            for b in batches:
                v = acting_steps_per_second(bench, cfg, b, steps=8 if quick else 32, device=device)
                rows.append((f"{name} {size} acting {device} B={b}", v, "steps/s", f"{ratio(v):,.0f}x paper, median"))
            v = learner_samples_per_second(bench, cfg, device=device, updates=3 if quick else 10)
            rows.append((f"{name} {size} learner {device} batch={cfg.batch_size}", v, "samples/s",
                         f"{ratio(v):,.0f}x paper's env steps/s, median"))
            steps = 4_096 if quick else (40_960 if device == "cpu" else 409_600)
            t0 = time.perf_counter()
            v = end_to_end_steps_per_second(bench, cfg, device=device, learning_steps=steps)
            rows.append((f"{name} {size} end to end {device} replay ratio 1", v, "steps/s",
                         f"{ratio(v):,.0f}x paper, median of log rows ({time.perf_counter() - t0:.0f} s run)"))
            if device == "cuda" or name == "nb101-fixture":
                rows.append((f"{name} {size}: 1e7 env steps would take", 1e7 / v / 60, "minutes", "at that speed"))
    return rows


SECTIONS = {"apex": _apex_rows}
