"""Synthetic Thai school data in the data contract's format (``ews synth``).

A term-by-term simulation of students in OBEC primary and secondary schools and OVEC
colleges. Each student has a lasting background risk (poverty, caregiver, distance,
ability) and a term-to-term "strain" that drifts (AR(1)); both raise absence, lower
grades, flag screenings and raise the chance of leaving. Most dropouts are preceded by a
ramp of absences and missing work over the weeks before they go; migrant children mostly
leave by moving, with little warning. P6 and M3 are transitions between schools, where
some children are lost. Interventions (home visits, referrals) lower the hazard somewhat.
A small share of rows carries realistic defects so ingest's rejection path runs.

Modules by what they simulate: ``schools``, ``world`` (the population), ``years``
(cohorts and transitions), ``term`` (who leaves and when), ``attendance``, ``learning``
(coursework and grades), ``household``, ``screening``, ``interventions``, ``exits``;
then ``output`` (the source files) and ``defects``.
"""

from __future__ import annotations

import numpy as np

from synth.config import SynthConfig, SynthResult
from synth.defects import inject_defects
from synth.output import dropout_rates_by_level, school_file_schools, write_directory
from synth.world import World
from synth.years import simulate

__all__ = ["SynthConfig", "SynthResult", "dropout_rates_by_level", "generate", "write_directory"]


def generate(config: SynthConfig) -> SynthResult:
    """Simulate the schools and return the contract's source frames."""
    result = simulate(World(config))
    spared = school_file_schools(result.frames, config.school_files)
    inject_defects(result, config.defect_rate, np.random.default_rng(config.seed + 1), spared)
    return result
