"""``nasbench-lab experiment``: run, resume, list and export experiments from a shell.

::

    nasbench-lab experiment run config.yaml [--id ID] [--quiet] [--port 8080]
    nasbench-lab experiment resume ID [--quiet] [--port 8080]
    nasbench-lab experiment view ID --port 8080 [--host 127.0.0.1]   # read-only portal, until Ctrl-C
    nasbench-lab experiment list
    nasbench-lab experiment export ID --out trials.csv      # or .parquet

A bad config, an unknown id or a damaged store prints one line naming the problem and
exits with status 2; an experiment that ends in ERROR exits with 1.
"""
from __future__ import annotations

import sys
from pathlib import Path


def add_parser(sub) -> None:
    e = sub.add_parser("experiment", help="run, resume, list and export experiments (NNI's Experiment)")
    esub = e.add_subparsers(dest="experiment_command", required=True)
    r = esub.add_parser("run", help="run the experiment a YAML config describes")
    r.add_argument("config", help="YAML file with ExperimentConfig fields")
    r.add_argument("--id", help="experiment id (default: the config's, else a new one)")
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    r.add_argument("--port", type=int, help="serve the web portal on this port (127.0.0.1) while it runs")
    r.set_defaults(func=cli_run)
    s = esub.add_parser("resume", help="continue a stopped or killed experiment")
    s.add_argument("id")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    s.add_argument("--port", type=int, help="serve the web portal on this port (127.0.0.1) while it runs")
    s.set_defaults(func=cli_resume)
    v = esub.add_parser("view", help="serve a stored experiment's web portal, read-only, until Ctrl-C")
    v.add_argument("id")
    v.add_argument("--port", type=int, required=True, help="the port (0: any free one)")
    v.add_argument("--host", default="127.0.0.1", help="the interface (default: loopback only)")
    v.set_defaults(func=cli_view)
    ls = esub.add_parser("list", help="every experiment of the registry")
    ls.set_defaults(func=cli_list)
    x = esub.add_parser("export", help="write an experiment's trials (CSV or Parquet)")
    x.add_argument("id")
    x.add_argument("--out", required=True, help="output file: .csv or .parquet")
    x.set_defaults(func=cli_export)


def _fail(e: Exception) -> int:
    print(f"error: {e}", file=sys.stderr)
    return 2


def _summary(exp) -> None:
    frame = exp.trials()
    best = frame["best_validation"].iloc[-1] if len(frame) else float("nan")
    counts = ", ".join(f"{d['trialJobStatus']} {d['trialJobNumber']}" for d in exp.get_job_statistics())
    print(f"experiment {exp.id}: {exp.get_status()} ({counts or 'no trials'}); best validation {best:.4f}; "
          f"folder {exp.folder}")
    if exp.get_status() == "ERROR":
        print(exp.get_experiment_profile()["error"], file=sys.stderr)


def cli_run(args) -> int:
    import dataclasses

    from .config import ConfigError, ExperimentConfig
    from .experiment import Experiment
    from .store import ExperimentError

    try:
        cfg = ExperimentConfig.from_yaml(Path(args.config))
        if args.id:
            cfg = dataclasses.replace(cfg, id=args.id)
        exp = Experiment(cfg)
        exp.progress = not args.quiet
        print(f"experiment {exp.id}: running (resume with `nasbench-lab experiment resume {exp.id}`)", flush=True)
        exp.run(port=getattr(args, "port", None))
    except (ConfigError, ExperimentError) as e:
        return _fail(e)
    _summary(exp)
    return 1 if exp.get_status() == "ERROR" else 0


def cli_resume(args) -> int:
    from .config import ConfigError
    from .experiment import Experiment
    from .store import ExperimentError

    try:
        exp = Experiment.resume(args.id, progress=not args.quiet, port=getattr(args, "port", None))
    except (ConfigError, ExperimentError) as e:
        return _fail(e)
    _summary(exp)
    return 1 if exp.get_status() == "ERROR" else 0


def cli_view(args) -> int:
    from .experiment import Experiment
    from .store import ExperimentError

    try:
        Experiment.view(args.id, port=args.port, host=args.host, non_blocking=False)
    except ExperimentError as e:
        return _fail(e)
    return 0


def cli_list(args) -> int:
    import datetime

    from .store import ExperimentError, Registry

    try:
        entries = Registry().all()
    except ExperimentError as e:
        return _fail(e)
    if not entries:
        print(f"no experiments in {Registry().path}")
        return 0
    print(f"{'id':<12s} {'status':<14s} {'created':<20s} {'name':<20s} folder")
    for e in entries:
        created = datetime.datetime.fromtimestamp(e["created"]).strftime("%Y-%m-%d %H:%M:%S")
        print(f"{e['id']:<12s} {e['status'] or '':<14s} {created:<20s} {(e['name'] or ''):<20s} {e['folder']}")
    return 0


def cli_export(args) -> int:
    from .. import paths
    from .experiment import Experiment
    from .store import ExperimentError

    out = Path(args.out)
    if out.suffix not in (".csv", ".parquet"):
        return _fail(ValueError(f"--out {out}: write .csv or .parquet"))
    try:
        frame = Experiment.view(args.id).trials()
    except ExperimentError as e:
        return _fail(e)
    out.parent.mkdir(parents=True, exist_ok=True)
    with paths.atomic_write(out, suffix=out.suffix) as tmp:
        frame.to_parquet(tmp, index=False) if out.suffix == ".parquet" else frame.to_csv(tmp, index=False)
    print(f"{len(frame)} trials -> {out}")
    return 0
