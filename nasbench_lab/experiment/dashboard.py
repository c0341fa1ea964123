"""``exp.widget()``: a notebook dashboard of an Experiment (ipywidgets).

It shows the status, the counts of trials by status, a live best-so-far plot (validation
and, where the evaluator has one, test accuracy of the best-by-validation trial) and the
latest trials. A daemon thread refreshes it every ``interval`` seconds while the
experiment runs (``exp.start()``), and once more when it ends; ``refresh()`` redraws on
demand.

>>> exp.start(); exp.widget()        # doctest: +SKIP
"""
from __future__ import annotations

import html
import threading

#: colours of trial statuses in the counts bar
_COLOURS = {"SUCCEEDED": "#2e7d32", "FAILED": "#c62828", "RUNNING": "#1565c0", "WAITING": "#757575",
            "USER_CANCELED": "#ef6c00", "SYS_CANCELED": "#ef6c00"}


class ExperimentWidget:
    """The dashboard; display it as the last expression of a cell (``_ipython_display_``)."""

    def __init__(self, experiment, interval: float = 0.5, latest: int = 8):
        import ipywidgets as w

        self.experiment = experiment
        self.interval = float(interval)
        self.latest = int(latest)
        self.status = w.HTML()
        self.counts = w.HTML()
        # an Image, not an Output: an Output's capture from the refresh thread would also
        # swallow what the notebook's own cells print meanwhile
        self.plot = w.Image(format="png", layout=w.Layout(min_height="200px"))
        self.table = w.HTML()
        self.box = w.VBox([self.status, self.counts, self.plot, self.table])
        self.box.add_class("nasbench-lab-experiment")
        self._seen = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.refresh()
        self._thread = threading.Thread(target=self._loop, name=f"widget-{experiment.id}", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.refresh()
            except Exception:  # noqa: BLE001 - a dashboard never takes the kernel down
                pass
            if self.experiment.get_status() not in ("RUNNING", "STOPPING", "INITIALIZED"):
                self.refresh()
                break

    def close(self) -> None:
        """Stop refreshing and close the widgets."""
        self._stop.set()
        self.box.close()

    def refresh(self) -> None:
        """Redraw from the experiment's store."""
        with self._lock:
            self._refresh()

    def _refresh(self) -> None:
        exp = self.experiment
        status = exp.get_status()
        self.status.value = (f"<b>Experiment {html.escape(exp.id)}</b> &nbsp; status: "
                             f"<span class='experiment-status'>{status}</span>")
        try:
            frame = exp.trials()
        except Exception:  # noqa: BLE001 - not started yet
            self.counts.value, self.table.value = "no trials yet", ""
            return
        counts = frame["status"].value_counts().to_dict()
        self.counts.value = " &nbsp; ".join(
            f"<span style='color:{_COLOURS.get(s, '#000')}'>{s}: <b>{n}</b></span>" for s, n in sorted(counts.items())
        ) or "no trials yet"
        fingerprint = (len(frame), tuple(sorted(counts.items())), status)
        if fingerprint != self._seen:
            self._seen = fingerprint
            self._draw(frame)
        tail = frame.tail(self.latest)[["trial", "status", "key", "validation", "test", "best_validation"]]
        self.table.value = tail.to_html(index=False, float_format=lambda x: f"{x:.4f}", na_rep="",
                                        classes="experiment-latest")

    def _draw(self, frame) -> None:
        import io

        from matplotlib.figure import Figure

        fig = Figure(figsize=(6, 2.6))  # no pyplot: drawn from the refresh thread, never shown twice
        ax = fig.subplots()
        if len(frame):
            ax.step(frame["query"], frame["best_validation"], where="post", label="best validation")
            if frame["best_test"].notna().any():
                ax.step(frame["query"], frame["best_test"], where="post", label="its test accuracy")
            ax.legend(loc="lower right", fontsize=8)
        ax.set_xlabel("queries")
        ax.set_ylabel("best so far")
        ax.set_title(f"{self.experiment.id}: best so far", fontsize=9)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=80)
        self.plot.value = buf.getvalue()

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.box)

    def _repr_mimebundle_(self, **kwargs):
        return self.box._repr_mimebundle_(**kwargs)


__all__ = ["ExperimentWidget"]
