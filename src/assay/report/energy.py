"""Energy used by a Run's fit and its estimated CO2: CPU seconds x a stated power per busy
core x a stated grid carbon intensity. No network, no hardware counters: the method and the
figures are printed in the report so a reader can redo the sum with their own numbers.

CPU seconds come from run.json (`timings.cpu`: user + system CPU time of the fitting process
and its trial workers, recorded by `assay.fit`). For a Run written before that was recorded,
they are estimated as wall time x cores (an upper bound) and the report says so.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

# A busy core of a current server or desktop CPU: thermal design power / cores is about
# 4-12 W (e.g. 280 W / 64 cores = 4.4 W; 125 W / 16 cores = 7.8 W); 10 W is a round,
# deliberately generous figure. Change it with --watts-per-core.
WATTS_PER_CORE = 10.0
# World-average carbon intensity of electricity, g CO2e per kWh (IEA; the figure the Green
# Algorithms calculator uses by default). Change it with --grid-intensity.
GRID_G_PER_KWH = 475.0
CAR_G_PER_KM = 170.0   # an average petrol car, for scale only


@dataclass
class Energy:
    cpu_seconds: float
    method: str                 # "measured" | "estimated"
    how: str                    # one sentence: where the CPU seconds come from
    watts_per_core: float
    grid_g_per_kwh: float
    wall_seconds: float

    @property
    def kwh(self) -> float:
        return self.cpu_seconds * self.watts_per_core / 3.6e6

    @property
    def wh(self) -> float:
        return self.kwh * 1000.0

    @property
    def co2_g(self) -> float:
        return self.kwh * self.grid_g_per_kwh

    @property
    def car_m(self) -> float:
        return self.co2_g / CAR_G_PER_KM * 1000.0

    @property
    def mean_busy_cores(self) -> float:
        return self.cpu_seconds / self.wall_seconds if self.wall_seconds > 0 else float("nan")


def estimate(meta: dict, watts_per_core: float | None = None, grid_g_per_kwh: float | None = None) -> Energy:
    t = meta.get("timings", {}) or {}
    wall = float(sum(t.get(k, 0.0) or 0.0 for k in ("prepare", "search", "ensemble", "save")))
    w = WATTS_PER_CORE if watts_per_core is None else float(watts_per_core)
    g = GRID_G_PER_KWH if grid_g_per_kwh is None else float(grid_g_per_kwh)
    if t.get("cpu") is not None:
        cpu = float(t["cpu"])
        how = ("measured: user + system CPU time of the fitting process and of every trial and "
               "refit worker (recorded by assay.fit in run.json, timings.cpu)")
        return Energy(cpu, "measured", how, w, g, wall)
    cores = (meta.get("config") or {}).get("n_jobs") or os.cpu_count() or 1
    cpu = wall * cores
    how = (f"estimated: this Run does not record CPU time, so wall time of the fit ({wall:.1f} s) "
           f"x {cores} cores is used, an upper bound (every core busy all the time)")
    return Energy(cpu, "estimated", how, w, g, wall)
