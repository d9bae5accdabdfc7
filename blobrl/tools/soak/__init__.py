"""The soak (``python -m blobrl.soak``, ``make soak``): a long real run on a local Ray head with
self-play actors killed on a schedule, then checks that nothing was lost and memory stayed flat.

- :mod:`.checks`: the pass/fail rules (pure) and the readings of the run directory;
- :mod:`.report`: :class:`SoakReport`, the checks together, as text and JSON;
- :mod:`.actors`: the run's live actors: found, killed, measured;
- :mod:`.driver`: :class:`Soak`, one soak from the config copy to the verdict;
- :mod:`.cli`: the command line.
"""

from blobrl.tools.soak.actors import ActorInfo, RunActors, rss_of, sample_rss
from blobrl.tools.soak.checks import (
    MIB,
    SETTLE_S,
    MemoryCheck,
    RssSample,
    baseline_sample,
    check_memory,
    duplicate_games,
    memory_limit,
)
from blobrl.tools.soak.cli import build_parser, main
from blobrl.tools.soak.driver import SOAK_ITERATIONS, Soak, SoakOptions, soak_config
from blobrl.tools.soak.report import Kill, SoakReport

__all__ = [
    "MIB",
    "SETTLE_S",
    "SOAK_ITERATIONS",
    "ActorInfo",
    "Kill",
    "MemoryCheck",
    "RssSample",
    "RunActors",
    "Soak",
    "SoakOptions",
    "SoakReport",
    "baseline_sample",
    "build_parser",
    "check_memory",
    "duplicate_games",
    "main",
    "memory_limit",
    "rss_of",
    "sample_rss",
    "soak_config",
]
