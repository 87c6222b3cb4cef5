"""Is the page still open? An invisible widget whose JavaScript beats while it is.

Voila 0.5.13 cannot shut a page's kernel down when its tab closes (the shutdown
beacon is refused for lack of an ``_xsrf`` token, voila#1458), so the kernel lives
on. :class:`PageHeartbeat` tells the kernel whether anyone still watches: the
browser bumps ``beat`` every ``period_s`` seconds, and :meth:`PageHeartbeat.alive`
turns false once no beat came for ``grace_s``. Auto-refresh pauses then
(:mod:`.live`), the kernel falls silent and Jupyter's idle culler shuts it down
(:mod:`.server`).

``VIGILEOS_DASHBOARD_HEARTBEAT_GRACE`` (seconds, default 180) sets the grace; the
beat period is a third of it, at most 20 s.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

import anywidget
import ipywidgets as w
import traitlets as t

from ..config import MIN_GRACE_S, read_setting, setting_default, setting_spec
from ..errors import ConfigurationError

GRACE_ENV = setting_spec("dashboard_heartbeat_grace").env
#: The setting's default (see :mod:`vigileos_analytics.config` for why it is 3 minutes).
DEFAULT_GRACE_S: float = setting_default("dashboard_heartbeat_grace")
#: A page misses this many beats in a row before it counts as gone.
BEATS_PER_GRACE = 3
MAX_PERIOD_S = 20.0

# Beats at once (on render and when the tab comes back to the foreground, so a
# paused page refreshes without waiting), then every period_s seconds. The kernel's
# count of beats received comes back as data-received, which browser tests read.
_ESM = """
export default {
  render({ model, el }) {
    const beat = () => {
      model.set("beat", model.get("beat") + 1);
      model.save_changes();
    };
    const show = () => { el.dataset.received = String(model.get("received")); };
    const onVisible = () => { if (document.visibilityState === "visible") beat(); };
    model.on("change:received", show);
    document.addEventListener("visibilitychange", onVisible);
    show();
    beat();
    const timer = setInterval(beat, model.get("period_s") * 1000);
    return () => {
      clearInterval(timer);
      document.removeEventListener("visibilitychange", onVisible);
      model.off("change:received", show);
    };
  },
};
"""


def grace_from_environment(environ: Mapping[str, str] | None = None) -> tuple[float, str | None]:
    """The grace (seconds) from ``VIGILEOS_DASHBOARD_HEARTBEAT_GRACE``, and the reason
    when a malformed value was replaced by the default (else ``None``)."""
    try:
        return read_setting("dashboard_heartbeat_grace", environ), None
    except ConfigurationError as exc:
        return DEFAULT_GRACE_S, f"{exc} Using {DEFAULT_GRACE_S:g}."


class PageHeartbeat(anywidget.AnyWidget):
    """An invisible widget the page's browser beats every ``period_s`` seconds.

    Display it in the page (it takes no room). ``clock`` returns seconds on a
    monotonic scale; tests pass a fake one.
    """

    _esm = _ESM
    #: Bumped by the browser every ``period_s`` seconds.
    beat = t.Int(0).tag(sync=True)
    period_s = t.Float(MAX_PERIOD_S).tag(sync=True)
    #: Beats the kernel received, sent back to the page (``data-received``).
    received = t.Int(0).tag(sync=True)

    def __init__(self, grace_s: float = DEFAULT_GRACE_S, *, clock: Callable[[], float] = time.monotonic) -> None:
        if not grace_s >= MIN_GRACE_S:
            raise ValueError(f"grace_s must be at least {MIN_GRACE_S:g} seconds; got {grace_s!r}.")
        super().__init__(period_s=min(MAX_PERIOD_S, grace_s / BEATS_PER_GRACE), layout=w.Layout(display="none"))
        self.add_class("vigileos-heartbeat")
        self.grace_s = float(grace_s)
        self._clock = clock
        # Until the first beat, the grace runs from here: the page is still loading.
        self._created = clock()
        self.last_beat: float | None = None
        self.observe(self._on_beat, "beat")

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> tuple[PageHeartbeat, str | None]:
        """A heartbeat with the grace of ``VIGILEOS_DASHBOARD_HEARTBEAT_GRACE``, and the
        reason when its value was malformed (see :func:`grace_from_environment`)."""
        grace_s, problem = grace_from_environment(environ)
        return cls(grace_s), problem

    def _on_beat(self, change: dict) -> None:
        self.last_beat = self._clock()
        self.received += 1

    def silent_for(self) -> float:
        """Seconds since the last beat (since creation before the first one)."""
        return self._clock() - (self._created if self.last_beat is None else self.last_beat)

    def alive(self, grace_s: float | None = None) -> bool:
        """Whether the page beat within ``grace_s`` seconds (default: :attr:`grace_s`)."""
        return self.silent_for() <= (self.grace_s if grace_s is None else grace_s)
