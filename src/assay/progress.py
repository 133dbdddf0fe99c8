"""Live progress of a fit: elapsed / remaining budget, trials done, best so far.

`make_progress(verbosity)` returns a Rich live display (verbosity >= 1 on a
terminal-ish stream) or a silent one (verbosity 0)."""

from __future__ import annotations

import sys


class Progress:
    """Silent progress: the interface every display implements."""

    def start(self, budget, max_trials, metric_name: str) -> None: ...
    def phase(self, text: str) -> None: ...
    def trial_started(self, trial_id: int, family: str) -> None: ...
    def trial_done(self, record, best) -> None: ...
    def stop(self) -> None: ...


class RichProgress(Progress):
    def __init__(self, stream=None):
        from rich.console import Console

        self.console = Console(file=stream or sys.stderr)
        self.live = None
        self.done = self.failed = self.pruned = 0
        self.best = None
        self.current = ""
        self.phase_text = "searching"

    def start(self, budget, max_trials, metric_name):
        from rich.live import Live

        self.budget, self.max_trials, self.metric_name = budget, max_trials, metric_name
        if not self.console.is_terminal:
            return  # a log or a pipe: one line per trial instead of a live display
        self.live = Live(self._render(), console=self.console, refresh_per_second=4,
                         transient=False, get_renderable=self._render)
        self.live.start()

    def _render(self):
        from rich.text import Text

        b = self.budget
        el = b.elapsed()
        limit = f" / {b.time_limit:.0f}s (left {max(0.0, b.total_left()):.0f}s)" if b.time_limit else ""
        trials = f"{self.done}" + (f"/{self.max_trials}" if self.max_trials else "")
        best = (f"{self.best.value:.5g} ({self.best.name})" if self.best is not None else "-")
        return Text.assemble(
            ("assay ", "bold cyan"), (f"{self.phase_text}  ", "bold"),
            f"elapsed {el:.0f}s{limit}  trials {trials}",
            (f" ({self.failed} failed)" if self.failed else ""),
            (f" ({self.pruned} pruned)" if self.pruned else ""),
            f"  best {self.metric_name} {best}",
            (f"  running {self.current}" if self.current else ""),
        )

    def phase(self, text):
        self.phase_text = text
        self.current = ""

    def trial_started(self, trial_id, family):
        self.current = f"{family}#{trial_id}"

    def trial_done(self, record, best):
        self.done += 1
        pruned = record.status == "pruned"
        self.pruned += pruned
        self.failed += 0 if record.ok or pruned else 1
        self.best = best
        self.current = ""
        if self.live is None:
            self.console.print(self._render(), soft_wrap=True)
        if not record.ok and not pruned:
            self.console.print(f"[yellow]trial {record.name} {record.status}[/]: "
                               f"{record.error.strip().splitlines()[0][:160] if record.error else ''}")

    def stop(self):
        if self.live is not None:
            self.live.update(self._render())
            self.live.stop()
            self.live = None


def make_progress(verbosity: int) -> Progress:
    return RichProgress() if verbosity >= 1 else Progress()

