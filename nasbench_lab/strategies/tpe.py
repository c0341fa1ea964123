"""Tree-structured Parzen Estimator (TPE) over a space of categorical decisions, on optuna.

NNI lists TPE (Bergstra et al. 2011) among its multi-trial strategies; this one is
optuna's :class:`optuna.samplers.TPESampler` driven through optuna's ask/tell interface
over ``space.decisions()`` (one ``suggest_categorical`` per decision). See :class:`TPE`.
"""
from __future__ import annotations

import contextlib
import dataclasses
import math
import warnings
from typing import Any

import numpy as np

from ..spaces.base import InvalidArchitecture
from .base import MultiTrialStrategy

_PLAIN = (str, int, float, bool, type(None))


@dataclasses.dataclass
class TPEConfig:
    """Hyperparameters of :class:`TPE` (those of optuna's ``TPESampler`` keep its names)."""

    n_startup_trials: int = 20
    """completed trials drawn uniformly at random before TPE takes over (failed ones do not count)"""
    n_ei_candidates: int = 24
    """candidates drawn from the 'good' Parzen estimator per suggestion; the best by l(x)/g(x) wins"""
    multivariate: bool = False
    """one joint Parzen estimator over all decisions (True) or one per decision (False)"""
    constant_liar: bool = True
    """pending (asked, not yet told) trials count as bad ones, so parallel asks spread out"""
    max_invalid_retries: int = 1000
    """decision vectors the space rejects, at most, within one ``ask()`` before it raises"""
    random_after_invalid: int = 10
    """after this many rejected TPE suggestions in one ``ask()``, the next tries are uniform vectors"""


@contextlib.contextmanager
def _quiet_optuna():
    """optuna at WARNING for the duration of a block, its previous verbosity restored after."""
    import optuna

    before = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(before)


def _random_state(sampler) -> np.random.RandomState:
    """The ``RandomState`` a sampler draws from (``LazyRandomState`` since optuna 3.x)."""
    rng = sampler._rng
    return getattr(rng, "rng", rng)


def _decisions(space) -> list[tuple[str, tuple]]:
    try:
        decisions = [(str(n), tuple(c)) for n, c in space.decisions()]
    except (NotImplementedError, AttributeError):
        raise TypeError(f"TPE needs a space that is a fixed sequence of categorical decisions "
                        f"(space.decisions()); the {getattr(space, 'name', space)!r} space is not") from None
    if not decisions or any(len(c) == 0 for _, c in decisions):
        raise ValueError(f"the {getattr(space, 'name', space)!r} space has no decisions or an empty decision")
    return decisions


class TPE(MultiTrialStrategy):
    """TPE (optuna's ``TPESampler``) over ``space.decisions()``, always *maximising* the
    told validation accuracy.

    ``TPE(space, seed=0, n_startup_trials=20, n_ei_candidates=24, multivariate=False,
    constant_liar=True, max_invalid_retries=1000)``; ``config=TPEConfig(...)`` works too.

    Parameters:
        space: a search space with ``decisions()`` / ``to_decisions`` / ``from_decisions``
            (NAS-Bench-201, ...), or a benchmark (its ``.space``); other spaces raise
            TypeError.
        seed: seeds this strategy's ``rng`` and, through ``np.random.SeedSequence(seed)``,
            the sampler (and its startup ``RandomSampler``); no global RNG is touched.
        n_startup_trials: completed trials sampled uniformly at random before the Parzen
            estimators are used (optuna's argument; failed trials do not count).
        n_ei_candidates: candidates drawn from the good-trials estimator per suggestion;
            the one with the best ratio l(x)/g(x) is taken (optuna's argument).
        multivariate: one joint estimator over all decisions instead of one per decision
            (optuna's argument; optuna >= 5 defaults it to True, we keep NNI's False).
        constant_liar: asked-but-not-told trials count as bad ones, so that several asks
            outstanding at once spread out (optuna's argument).
        max_invalid_retries: how many decision vectors the space may reject within one
            ``ask()`` before it raises RuntimeError.
        random_after_invalid: after this many rejected TPE suggestions within one
            ``ask()``, the following tries are uniform random vectors (see below).

    Direction: the study is created with ``direction="maximize"``, always. NNI's TPE tuner
    *minimises* by default (``optimize_mode`` must be set to ``maximize``), a known trap
    that makes it search for the worst architectures (NNI issue #5656); here there is no
    such switch, the told number is an accuracy and higher is better.

    Choices are passed to ``suggest_categorical`` as they are when they are all plain
    ``str``/``int``/``float``/``bool``/``None`` values (and distinct), as their index
    otherwise; a decision name that repeats gets its position appended.

    Invalid decision vectors: where ``space.from_decisions`` raises ``InvalidArchitecture``
    the optuna trial is told ``TrialState.FAIL`` (TPE learns nothing from it, and it does
    not count as a startup trial) and ``ask()`` samples again, at most
    ``max_invalid_retries`` times, then raises RuntimeError. ``invalid`` counts them.
    Since TPE learns nothing from failed trials, a suggestion it is sure of stays the same
    however often it is rejected (on DARTS, where the two inputs of a node must differ, it
    would propose the same invalid vector forever); so after ``random_after_invalid``
    rejections in one ``ask()`` the next tries draw a uniform vector from ``rng`` and
    give it to the study as that trial's parameters (``study.enqueue_trial``), still one
    optuna trial each, failed when invalid.

    ``tell(arch, metrics)``: the oldest pending ask with the same ``space.key`` gets the
    validation accuracy (a NaN reward: ``TrialState.FAIL``, no learning signal); an
    architecture that was never asked is added to the study as a completed trial (warm
    start), a never-asked NaN is only counted.

    State: the in-memory optuna study is not kept in ``state_dict``. It holds every optuna
    trial in order (its decision values, state and value), the pending asks, and the state
    of the sampler's two ``RandomState`` generators; ``load_state_dict`` adds the trials to
    a fresh study (``optuna.trial.create_trial`` + ``study.add_trial``, so trial numbers
    match) whose fresh sampler gets those generator states back. TPE's suggestion depends
    only on the finished and running trials and on the generator, so the continuation is
    the one of an uninterrupted run (tested, also mid-startup and with pending asks) with
    the same optuna version (the state records it).

    >>> from nasbench_lab.spaces.nb201 import NB201Space
    >>> tpe = TPE(NB201Space(), seed=0, n_startup_trials=3)
    >>> for _ in range(5):
    ...     cell = tpe.ask()
    ...     tpe.tell(cell, cell.ops.count("nor_conv_3x3") / 6)
    >>> tpe.trials, tpe.study.direction.name
    (5, 'MAXIMIZE')
    >>> again = TPE(NB201Space(), seed=0, n_startup_trials=3)
    >>> again.load_state_dict(tpe.state_dict())
    >>> again.ask() == tpe.ask()
    True
    """

    name = "tpe"

    def __init__(self, space: Any, seed: int = 0, config: TPEConfig | None = None, **overrides) -> None:
        import optuna  # noqa: F401  (a clear ImportError here, not at the first ask)

        super().__init__(space, seed)
        self.config = dataclasses.replace(config or TPEConfig(), **overrides)
        if self.config.max_invalid_retries < 0:
            raise ValueError(f"max_invalid_retries must be >= 0, got {self.config.max_invalid_retries}")
        decisions = _decisions(self.space)
        self._choices = [c for _, c in decisions]
        names = [n for n, _ in decisions]
        self._names = [n if names.count(n) == 1 else f"{n} #{i}" for i, n in enumerate(names)]
        # suggest the choices themselves where optuna can store them, their index otherwise
        self._plain = [all(type(v) in _PLAIN for v in c) and len(set(c)) == len(c) for c in self._choices]
        self.invalid = 0
        self._new_study()

    # -- the optuna study -----------------------------------------------------------------
    def _sampler_seed(self) -> int:
        return int(np.random.SeedSequence(self.seed).generate_state(1)[0])

    def _new_study(self) -> None:
        import optuna
        from optuna.distributions import CategoricalDistribution

        cfg = self.config
        self._distributions = {
            name: CategoricalDistribution(c if plain else tuple(range(len(c))))
            for name, c, plain in zip(self._names, self._choices, self._plain)}
        with warnings.catch_warnings():  # optuna < 5 flags multivariate / constant_liar as experimental
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            self.sampler = optuna.samplers.TPESampler(
                seed=self._sampler_seed(), n_startup_trials=cfg.n_startup_trials,
                n_ei_candidates=cfg.n_ei_candidates, multivariate=cfg.multivariate,
                constant_liar=cfg.constant_liar)
        with _quiet_optuna():
            self.study = optuna.create_study(direction="maximize", sampler=self.sampler)
        #: every optuna trial in number order: [params, state name, value]
        self._records: list[list] = []
        #: key -> numbers of the trials asked with that key and not told yet (oldest first)
        self._pending: dict[str, list[int]] = {}

    def _values(self, params: dict) -> list:
        """Decision values of optuna params."""
        return [params[n] if plain else c[params[n]]
                for n, c, plain in zip(self._names, self._choices, self._plain)]

    def _params(self, arch: Any) -> dict:
        """optuna params of an architecture."""
        values = self.space.to_decisions(arch)
        return {n: v if plain else c.index(v)
                for n, c, plain, v in zip(self._names, self._choices, self._plain, values)}

    # -- ask / tell -------------------------------------------------------------------------
    def ask(self) -> Any:
        """The next architecture TPE suggests (pending until told)."""
        from optuna.trial import TrialState

        with _quiet_optuna():
            for attempt in range(self.config.max_invalid_retries + 1):
                if attempt >= self.config.random_after_invalid:
                    self.study.enqueue_trial({n: d.choices[int(self.rng.integers(len(d.choices)))]
                                              for n, d in self._distributions.items()})
                trial = self.study.ask()
                params = {n: trial.suggest_categorical(n, d.choices) for n, d in self._distributions.items()}
                try:
                    arch = self.space.from_decisions(self._values(params))
                except InvalidArchitecture:
                    self.study.tell(trial, state=TrialState.FAIL)
                    self._records.append([params, "FAIL", None])
                    self.invalid += 1
                    continue
                self._records.append([params, "RUNNING", None])
                self._pending.setdefault(self.space.key(arch), []).append(trial.number)
                return arch
        raise RuntimeError(f"TPE: {self.config.max_invalid_retries + 1} decision vectors in a row were invalid "
                           f"in the {getattr(self.space, 'name', self.space)!r} space")

    def _observe(self, arch: Any, reward: float, metrics: Any) -> None:
        from optuna.trial import TrialState, create_trial

        key = self.space.key(arch)
        failed = math.isnan(reward)
        with _quiet_optuna():
            numbers = self._pending.get(key)
            if numbers:
                number = numbers[0]
                if failed:
                    self.study.tell(number, state=TrialState.FAIL)
                else:
                    self.study.tell(number, float(reward))
                numbers.pop(0)
                if not numbers:
                    del self._pending[key]
                self._records[number][1:] = ["FAIL", None] if failed else ["COMPLETE", float(reward)]
            elif not failed:  # told without being asked: a completed trial (warm start)
                params = self._params(arch)
                self.study.add_trial(create_trial(params=params, distributions=self._distributions,
                                                  value=float(reward)))
                self._records.append([params, "COMPLETE", float(reward)])

    # -- state ----------------------------------------------------------------------------
    def state_dict(self) -> dict:
        import copy

        import optuna

        state = super().state_dict()
        state.update({
            "invalid": self.invalid,
            "optuna_version": optuna.__version__,
            "records": copy.deepcopy(self._records),
            "pending": {k: list(v) for k, v in self._pending.items()},
            "sampler_rng": _random_state(self.sampler).get_state(),
            "startup_rng": _random_state(self.sampler._random_sampler).get_state(),
        })
        return state

    def load_state_dict(self, state: dict) -> None:
        import copy

        from optuna.trial import TrialState, create_trial

        super().load_state_dict(state)
        self._new_study()
        with _quiet_optuna():
            for params, st, value in state["records"]:
                self.study.add_trial(create_trial(params=params, distributions=self._distributions,
                                                  state=TrialState[st], value=value))
            trials = self.study.get_trials(deepcopy=False)
        if [t.number for t in trials] != list(range(len(state["records"]))):  # pragma: no cover
            raise RuntimeError("TPE: optuna numbered the replayed trials differently")
        self._records = copy.deepcopy(state["records"])
        self._pending = {k: list(v) for k, v in state["pending"].items()}
        _random_state(self.sampler).set_state(state["sampler_rng"])
        _random_state(self.sampler._random_sampler).set_state(state["startup_rng"])
        self.invalid = int(state.get("invalid", 0))


__all__ = ["TPE", "TPEConfig"]
