"""Seeded random generators, one per named purpose.

Each part of a simulated day draws from its own generator, derived from the seed and a name (and
the day), so that switching a scenario on or off, or changing its parameters, leaves every other
part of the day unchanged, and the same seed always gives the same day.
"""

from __future__ import annotations

import datetime as dt
import zlib

import numpy as np


def generator(seed: int, *names: object) -> np.random.Generator:
    key = [zlib.crc32(str(n).encode()) for n in names]
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed & 0xFFFFFFFF, *key])))


def day_generator(seed: int, day: dt.date, *names: object) -> np.random.Generator:
    return generator(seed, day.toordinal(), *names)
