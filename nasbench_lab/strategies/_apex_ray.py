"""The ``backend="ray"`` engine of :func:`nasbench_lab.strategies.apex.train` (optional extra).

For users who outgrow one machine: the ``n_workers`` actors run as Ray actors (each with its
own ``envs_per_worker`` environments, its own epsilon of the Ape-X schedule and a local copy
of the Q-network), sampling rollout fragments and computing the initial priorities of their
transitions; the driver is the learner (prioritised replay, double-Q updates, target
network). Weights go to an actor every ``weight_sync_every`` of its env steps, as in Ape-X.

The algorithm is the local one (the same :class:`~.apex.NStep`, :class:`~.apex.PrioritizedReplay`
and :func:`~.apex.learner_update`); what differs is that fragments arrive in the order Ray
delivers them, so a run is not bit-for-bit reproducible, and a checkpoint restores weights,
optimiser, counters and the log (every ``checkpoint_every`` env steps and at the end), not the
actors' episodes in flight. The actors run on the process's one Ray cluster
(``nasbench_lab._ray.init``): the one this process is connected to already (an Experiment's
``training_service="ray"`` trials, or ``ray.init`` of your own), else ``ApexConfig.ray_address``
(``"auto"``, ``"ray://head:10001"``), else a local instance on loopback.
"""
from __future__ import annotations

import copy
import math
import time
from pathlib import Path

import numpy as np

from .. import _ray, paths
from ..device import default_device
from . import apex


class _Worker:
    """One Ape-X actor: its environments, epsilon and a local copy of the networks."""

    def __init__(self, benchmark, config_dict: dict, seed: int, index: int):
        import torch

        torch.set_num_threads(1)
        cfg = apex.ApexConfig.from_dict(config_dict)
        self.cfg = cfg
        actors_cls = apex.TableActors if apex.is_tabular(benchmark) else apex.ListActors
        # the shown neighbours follow ``seed`` (as on the learner, which decodes stored rows);
        # initial states and exploration are this actor's own streams
        self.actors = actors_cls(benchmark, cfg.envs_per_worker, cfg, seed, "cpu", stream=index)
        self.online = apex.build_network(self.actors.input_dim, cfg, seed).eval()
        self.target = copy.deepcopy(self.online)
        eps = apex.worker_epsilons(cfg.n_workers, cfg.epsilon, cfg.epsilon_alpha)[index]
        self.eps = torch.full((cfg.envs_per_worker,), float(eps))
        self.gen = torch.Generator().manual_seed(int(np.random.SeedSequence([seed, 3, index]).generate_state(1)[0]))
        self.nstep = apex.NStep(cfg.n_step, cfg.gamma, cfg.envs_per_worker, "cpu")
        self.obs = self.actors.reset()
        self.ep_return = torch.zeros(cfg.envs_per_worker, dtype=torch.float64)

    def set_weights(self, online: dict, target: dict) -> None:
        self.online.load_state_dict(online)
        self.target.load_state_dict(target)

    def sample(self):
        """One rollout fragment: (transitions, priorities, steps, episodes, sum final val, sum return)."""
        cfg = self.cfg
        self.obs, self.ep_return, pending, st = apex.rollout_fragment(
            self.actors, self.online, self.obs, self.nstep, self.eps, self.gen, self.ep_return, cfg.rollout_fragment)
        n_ep, fval, ret = st["episodes"], st["final_validation"], st["return"]
        if not pending:
            return None, None, cfg.rollout_fragment * cfg.envs_per_worker, n_ep, fval, ret
        batch = apex._cat(pending)
        prio = apex.actor_priorities(self.online, self.target, self.actors.decode, batch, cfg)
        return batch, prio, cfg.rollout_fragment * cfg.envs_per_worker, n_ep, fval, ret


def train_ray(benchmark, cfg, seed: int = 0, checkpoint_dir=None, progress: bool = True):
    """``apex.train`` with Ray actors; see the module docstring."""
    ray = _ray.init(cfg.ray_address, num_cpus=max(2, cfg.n_workers), log_to_driver=False)  # the one cluster
    import pandas as pd
    import torch
    from tqdm.auto import tqdm

    t_start = time.perf_counter()
    device = str(cfg.device or default_device())
    remote = ray.remote(num_cpus=1)(_Worker)
    bench_ref = ray.put(benchmark)
    workers = [remote.remote(bench_ref, cfg.to_dict(), seed, i) for i in range(cfg.n_workers)]
    input_dim = int(benchmark.space.encoding_size)
    decoder = (apex.TableActors if apex.is_tabular(benchmark) else apex.ListActors)(benchmark, 1, cfg, seed, device)
    online = apex.build_network(input_dim, cfg, seed).to(device)
    target = copy.deepcopy(online).eval()
    optimiser = torch.optim.Adam(online.parameters(), lr=cfg.lr, eps=cfg.adam_eps)
    gen = torch.Generator(device=device).manual_seed(int(np.random.SeedSequence([seed, 2]).generate_state(1)[0]))
    replay = apex.PrioritizedReplay(cfg.buffer_size, cfg.per_alpha, cfg.per_beta, cfg.per_eps, device, gen)
    counters = {"env_steps": 0, "updates": 0, "trained_samples": 0, "episodes": 0, "target_updates": 0,
                "last_target_sync": 0, "owed": 0.0}
    ckpt = Path(checkpoint_dir) if checkpoint_dir is not None else None
    fingerprint = {"config": cfg.fingerprint(), "seed": seed, "benchmark": apex.benchmark_fingerprint(benchmark),
                   "device_type": device.split(":")[0]}
    log_rows: list[dict] = []
    if ckpt is not None and (ckpt / apex.CHECKPOINT).exists():
        try:
            state = torch.load(ckpt / apex.CHECKPOINT, map_location=device, weights_only=True)
        except Exception as e:  # noqa: BLE001
            raise ValueError(f"{ckpt / apex.CHECKPOINT}: unreadable checkpoint ({type(e).__name__}: {e})") from e
        if state.get("kind") != "apex-ray-checkpoint":
            raise ValueError(f"{ckpt / apex.CHECKPOINT} is not a checkpoint of the ray backend")
        if state["fingerprint"] != fingerprint:
            raise ValueError(f"{ckpt} holds a run with another configuration, seed or benchmark; "
                             "use another checkpoint_dir or remove it")
        online.load_state_dict(state["online"])
        target.load_state_dict(state["target"])
        optimiser.load_state_dict(state["optimiser"])
        counters.update(state["counters"])
        log_rows = list(state["log"])

    def save_checkpoint() -> None:
        if ckpt is None:
            return
        ckpt.mkdir(parents=True, exist_ok=True)
        with paths.atomic_write(ckpt / apex.CHECKPOINT, suffix=".pt") as tmp:
            torch.save({"kind": "apex-ray-checkpoint", "fingerprint": fingerprint, "online": online.state_dict(),
                        "target": target.state_dict(), "optimiser": optimiser.state_dict(),
                        "counters": dict(counters), "log": log_rows}, tmp)

    acc = {"episodes": 0, "fval": 0.0, "ret": 0.0, "loss": 0.0, "q": 0.0, "updates": 0}

    def weights():
        cpu = lambda sd: {k: v.detach().cpu() for k, v in sd.items()}  # noqa: E731
        return ray.put(cpu(online.state_dict())), ray.put(cpu(target.state_dict()))

    w_on, w_t = weights()
    ray.get([w.set_weights.remote(w_on, w_t) for w in workers])
    since_sync = [0] * len(workers)
    inflight = {w.sample.remote(): i for i, w in enumerate(workers)}
    bar = tqdm(total=cfg.total_steps, initial=counters["env_steps"], desc=f"ape-x (ray) seed {seed}", unit="step",
               disable=not progress)
    next_report = counters["env_steps"] + cfg.report_every
    next_checkpoint = counters["env_steps"] + cfg.checkpoint_every
    t0, s0, u0 = time.perf_counter(), counters["env_steps"], counters["updates"]
    try:
        while counters["env_steps"] < cfg.total_steps:
            done, _ = ray.wait(list(inflight), num_returns=1)
            i = inflight.pop(done[0])
            batch, prio, steps, n_ep, fval, ret = ray.get(done[0])
            counters["env_steps"] += steps
            counters["episodes"] += n_ep
            acc["episodes"] += n_ep
            acc["fval"] += fval
            acc["ret"] += ret
            bar.update(steps)
            if batch is not None:
                replay.add(apex._to(batch, device), None if prio is None else prio.to(device))
            if counters["env_steps"] >= cfg.learning_starts and replay.size > 0:
                counters["owed"] += steps * cfg.training_intensity
                n = int(counters["owed"] // cfg.batch_size)
                counters["owed"] -= n * cfg.batch_size
                for _ in range(n):
                    loss, q = apex.learner_update(online, target, optimiser, replay, decoder.decode, cfg)
                    counters["updates"] += 1
                    counters["trained_samples"] += cfg.batch_size
                    acc["loss"] += loss
                    acc["q"] += q
                    acc["updates"] += 1
                    if counters["trained_samples"] - counters["last_target_sync"] >= cfg.target_update_period:
                        target.load_state_dict(online.state_dict())
                        counters["last_target_sync"] = counters["trained_samples"]
                        counters["target_updates"] += 1
                if n:
                    w_on, w_t = weights()
            since_sync[i] += steps // cfg.envs_per_worker
            if since_sync[i] >= cfg.weight_sync_every:
                workers[i].set_weights.remote(w_on, w_t)
                since_sync[i] = 0
            inflight[workers[i].sample.remote()] = i
            if counters["env_steps"] >= next_report or counters["env_steps"] >= cfg.total_steps:
                now = time.perf_counter()
                dt = max(now - t0, 1e-9)
                e, u = acc["episodes"], acc["updates"]
                log_rows.append({
                    "env_steps": counters["env_steps"], "updates": counters["updates"],
                    "trained_samples": counters["trained_samples"], "episodes": counters["episodes"],
                    "mean_final_validation": acc["fval"] / e if e else math.nan,
                    "mean_return": acc["ret"] / e if e else math.nan, "loss": acc["loss"] / u if u else math.nan,
                    "mean_q": acc["q"] / u if u else math.nan, "target_updates": counters["target_updates"],
                    "steps_per_second": (counters["env_steps"] - s0) / dt,
                    "updates_per_second": (counters["updates"] - u0) / dt, "seconds": now - t_start})
                acc = dict.fromkeys(acc, 0) | {"fval": 0.0, "ret": 0.0, "loss": 0.0, "q": 0.0}
                while next_report <= counters["env_steps"]:
                    next_report += cfg.report_every
                t0, s0, u0 = now, counters["env_steps"], counters["updates"]
            if counters["env_steps"] >= next_checkpoint:
                next_checkpoint += cfg.checkpoint_every
                save_checkpoint()
    finally:
        bar.close()
        for w in workers:
            ray.kill(w)
    save_checkpoint()
    agent = apex.ApexAgent(None, seed=seed, config=cfg, network=copy.deepcopy(online).cpu(), input_dim=input_dim)
    agent.space_name = getattr(benchmark.space, "name", None)
    if ckpt is not None:
        agent.save(ckpt / apex.AGENT_FILE)
    log = pd.DataFrame(log_rows, columns=list(apex.LOG_COLUMNS))
    return apex.TrainResult(agent, log, cfg, time.perf_counter() - t_start)
