"""A dashboard chart: a widget that draws plotly JSON with a small plotly.js.

The pages draw only bars and lines. Drawn by JupyterLab's plotly renderer, every page
load paid for the whole plotly.js (4.8 MB, every trace type up to 3-D maps): a second
or two of the browser's time before the first chart, measured in
``bench/bench_dashboards.py``. A :class:`PlotlyChart` loads plotly.js "basic" (bar,
scatter, pie; 1.2 MB, MIT licence, ``static/``) once per page, from
:data:`LIBRARY_ROUTE` of the dashboard server (:mod:`.voila_app`) with a long cache, and
redraws with ``Plotly.react`` on a refresh, which changes only what changed.

Where that route does not exist (a page opened in JupyterLab), the browser asks the
kernel, which sends the library over the widget's own channel, once per page.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anywidget
import traitlets as t

__all__ = ["LIBRARY_DIR", "LIBRARY_FILE", "LIBRARY_ROUTE", "PLOTLY_JS_VERSION", "PlotlyChart"]

LIBRARY_DIR = Path(__file__).with_name("static")
LIBRARY_FILE = LIBRARY_DIR / "plotly-basic.min.js"
#: Where the dashboard server serves ``LIBRARY_DIR``, below its base URL.
LIBRARY_ROUTE = "vigileos/static/"
#: The version of ``plotly-basic.min.js``, which the Python plotly package of the
#: environment writes its JSON for; also the cache-busting ``?v=`` of its address.
PLOTLY_JS_VERSION = "4.1.1"

_ESM = """
const ADDRESS = "__ADDRESS__";

// One load per page, shared by every chart of it.
function plotly(model) {
  if (!window.__vigileosPlotly) {
    window.__vigileosPlotly = new Promise((resolve, reject) => {
      if (window.Plotly && window.Plotly.react) { resolve(window.Plotly); return; }
      const add = (src, onerror) => {
        const script = document.createElement("script");
        script.src = src;
        script.onload = () => (window.Plotly ? resolve(window.Plotly) : reject(new Error("plotly.js did not load")));
        script.onerror = onerror;
        document.head.appendChild(script);
      };
      const fromKernel = () => {
        const take = () => {
          const source = model.get("library");
          if (!source) return;
          model.off("change:library", take);
          add(URL.createObjectURL(new Blob([source], { type: "text/javascript" })),
              () => reject(new Error("plotly.js sent by the kernel did not load")));
        };
        model.on("change:library", take);
        model.set("library_wanted", true);
        model.save_changes();
        take();
      };
      let base = "/";
      try {
        base = JSON.parse(document.getElementById("jupyter-config-data").textContent).baseUrl || "/";
      } catch (error) { /* no page config: the server's root */ }
      add(base.replace(/\\/?$/, "/") + ADDRESS, fromKernel);
    });
  }
  return window.__vigileosPlotly;
}

// render returns at once (the widget's view is not held up by the library); the chart
// is drawn when the library is there, and again at every change of the figure. Its
// width is the slot's, followed as the slot changes (a page shown after its first
// render, a scroll bar, a resized window): drawn hidden, plotly would guess 700 px.
export default {
  render({ model, el }) {
    const plot = document.createElement("div");
    plot.className = "vigileos-plot";
    plot.style.width = "100%";
    el.appendChild(plot);
    let Plotly = null;
    let alive = true;
    let drawn = null;
    const draw = () => {
      const figure = model.get("figure");
      if (Plotly && alive && figure && figure.data && plot.clientWidth > 0) {
        Plotly.react(plot, figure.data, figure.layout || {}, figure.config || {});
        drawn = figure;
      }
    };
    let width = 0;
    const resized = new ResizeObserver(() => {
      if (plot.clientWidth === width) return;
      width = plot.clientWidth;
      if (model.get("figure") !== drawn) draw();
      else if (Plotly && plot._fullLayout) Plotly.Plots.resize(plot);
    });
    resized.observe(plot);
    plotly(model).then(
      (library) => { Plotly = library; draw(); },
      (error) => { plot.textContent = "This chart could not be drawn: " + error.message; });
    model.on("change:figure", draw);
    return () => {
      alive = false;
      resized.disconnect();
      model.off("change:figure", draw);
      if (Plotly) Plotly.purge(plot);
    };
  },
};
""".replace("__ADDRESS__", f"{LIBRARY_ROUTE}{LIBRARY_FILE.name}?v={PLOTLY_JS_VERSION}")


class PlotlyChart(anywidget.AnyWidget):
    """One chart; set :attr:`figure` (plotly JSON: ``data``, ``layout``, ``config``) to draw it."""

    _esm = _ESM
    figure = t.Dict().tag(sync=True)
    #: The library's source, sent only when the browser could not load it from the server.
    library = t.Unicode("").tag(sync=True)
    library_wanted = t.Bool(False).tag(sync=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.observe(self._send_library, "library_wanted")

    def _send_library(self, change: dict) -> None:
        if change["new"] and not self.library:
            self.library = LIBRARY_FILE.read_text(encoding="utf-8")
