"""The Ray backend of the Ape-X trainer, on a local Ray instance started by the fixture."""
from __future__ import annotations

import numpy as np
import pytest

from conftest import chain_benchmark

ray = pytest.importorskip("ray", reason="the optional `ray` extra is not installed")

# one local Ray instance per test process (conftest's ``local_ray``), shared with test_experiment_ray
pytestmark = pytest.mark.xdist_group("ray")


@pytest.mark.slow
def test_ray_actors_feed_the_learner_and_the_agent_acts(local_ray, tmp_path):
    from nasbench_lab import ProtocolConfig, run_protocol
    from nasbench_lab.strategies.apex import ApexAgent, ApexConfig, train

    bench = chain_benchmark(3)
    cfg = ApexConfig(embed_dim=16, heads=2, ff_dim=32, transformer_layers=1, encoder_layers=1, batch_size=16,
                     learning_starts=64, n_workers=2, envs_per_worker=4, rollout_fragment=8, buffer_size=512,
                     target_update_period=64, report_every=128, total_steps=1024, lr=1e-3, device="cpu",
                     backend="ray", weight_sync_every=16)
    result = train(bench, cfg, seed=0, checkpoint_dir=tmp_path, progress=False)
    log = result.log
    assert log["env_steps"].iloc[-1] >= 1024 and log["env_steps"].is_monotonic_increasing
    # the replay ratio holds across asynchronous fragments: one trained sample per sampled step
    # from the fragment that reached learning_starts on (fragments of 4 envs x 8 steps)
    steps, trained = log["env_steps"].iloc[-1], log["trained_samples"].iloc[-1]
    assert steps - cfg.learning_starts - cfg.batch_size <= trained <= steps
    assert log["target_updates"].iloc[-1] >= 1 and log["episodes"].iloc[-1] > 0
    # the trained agent is an ordinary agent: saved, loaded, evaluated through the protocol
    agent = ApexAgent.load(tmp_path)
    assert agent.fingerprint() == result.agent.fingerprint()
    res = run_protocol(bench, ["random_walk", agent], ProtocolConfig(n_sets=1, set_size=40, budget=10, max_steps=8),
                       progress=False)
    assert set(res.episodes.agent) == {"random_walk", "apex"}
    assert np.isfinite(res.episodes.final_validation).all()
