"""ipywidgets controls that redraw the paper's figures: benchmark, agent, budget, alpha, N.

:func:`explorer` is the generic piece: give it a drawing function returning a matplotlib
Figure and one control spec per keyword argument of that function; every change of a
control redraws the figure below the controls. Specs:

* a list/tuple of strings -> a dropdown (the first entry is the initial value),
* ``(min, max)`` or ``(min, max, step)`` or ``(min, max, step, value)`` of numbers -> a slider
  (integer when all numbers are integers, float otherwise),
* a ``set`` of strings -> a multi-select (all selected initially),
* an ``ipywidgets.Widget`` -> used as is.

The named explorers below wire it to ``nasbench_lab.analysis`` figure functions. ipywidgets
is imported lazily, so importing this module costs nothing.

>>> import nasbench_lab as nl
>>> def draw(alpha):                                              # doctest: +SKIP
...     return nl.analysis.figures.shaping_curves(alphas=[alpha])
>>> nl.widgets.explorer(draw, alpha=(0.0, 32.0, 1.0, 6.0))      # doctest: +SKIP
"""
from __future__ import annotations

from typing import Any, Callable

#: the control names the notebooks use, with their labels
LABELS = {
    "benchmark": "benchmark",
    "agent": "agent",
    "agents": "agents",
    "budget": "query budget",
    "alpha": "alpha (shaping)",
    "N": "N",
    "seed": "seed",
}


def _control(name: str, spec: Any):
    import ipywidgets as w

    label = LABELS.get(name, name)
    style = {"description_width": "initial"}
    if isinstance(spec, w.Widget):
        return spec
    if isinstance(spec, (set, frozenset)):
        options = sorted(spec)
        return w.SelectMultiple(options=options, value=tuple(options), description=label,
                                rows=min(len(options), 6), style=style)
    if isinstance(spec, (list, tuple)) and spec and all(isinstance(s, str) for s in spec):
        return w.Dropdown(options=list(spec), value=spec[0], description=label, style=style)
    if isinstance(spec, tuple) and 2 <= len(spec) <= 4 and all(isinstance(s, (int, float)) for s in spec):
        lo, hi = spec[0], spec[1]
        is_int = all(isinstance(s, int) and not isinstance(s, bool) for s in spec)
        step = spec[2] if len(spec) > 2 else (1 if is_int else (hi - lo) / 100)
        value = spec[3] if len(spec) > 3 else lo
        cls = w.IntSlider if is_int else w.FloatSlider
        return cls(min=lo, max=hi, step=step, value=value, description=label,
                   continuous_update=False, style=style, layout=w.Layout(width="420px"))
    raise TypeError(
        f"control {name!r}: cannot build a widget from {spec!r}; use a list of strings, "
        "a (min, max[, step[, value]]) tuple of numbers, a set of strings or a Widget")


class Explorer:
    """Controls plus an output area; ``redraw()`` calls the drawing function again.

    Attributes: ``controls`` (name -> widget), ``output`` (the ipywidgets Output),
    ``figure`` (the last matplotlib Figure drawn), ``box`` (the widget to display),
    ``error`` (the last exception raised by the drawing function, or None).
    """

    def __init__(self, draw: Callable[..., Any], controls: dict, title: str | None = None):
        import ipywidgets as w

        self.draw = draw
        self.controls = controls
        self.output = w.Output()
        self.figure = None
        self.error: BaseException | None = None
        header = [w.HTML(f"<b>{title}</b>")] if title else []
        self.box = w.VBox(header + [w.HBox(list(controls.values()), layout=w.Layout(flex_flow="row wrap")),
                                    self.output])
        for c in controls.values():
            c.observe(lambda change: self.redraw(), names="value")

    def values(self) -> dict:
        return {k: (list(c.value) if isinstance(c.value, tuple) else c.value) for k, c in self.controls.items()}

    def redraw(self):
        import matplotlib.pyplot as plt
        from IPython.display import display

        self.output.clear_output(wait=True)
        with self.output:
            try:
                fig = self.draw(**self.values())
                self.error = None
            except Exception as exc:  # shown in the output area, kept for inspection
                self.error = exc
                print(f"{type(exc).__name__}: {exc}")
                return None
            if fig is not None:
                display(fig)
                if hasattr(fig, "savefig"):  # a matplotlib Figure: shown once, then freed
                    plt.close(fig)
            self.figure = fig
        return self.figure

    def _ipython_display_(self):
        from IPython.display import display

        display(self.box)


def explorer(draw: Callable[..., Any], title: str | None = None, **specs) -> Explorer:
    """Build controls from ``specs`` (see module docstring) and draw once.

    ``draw`` receives one keyword argument per spec and returns a matplotlib Figure.
    Display the returned object (last expression of a cell) to show it.
    """
    if not specs:
        raise ValueError("explorer needs at least one control spec, e.g. alpha=(0.0, 32.0)")
    controls = {name: _control(name, spec) for name, spec in specs.items()}
    ex = Explorer(draw, controls, title=title)
    ex.redraw()
    return ex


__all__ = ["Explorer", "LABELS", "explorer"]
