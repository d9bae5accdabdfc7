"""Benchmarks: engine, determinization, search, network and self-play throughput."""

from blobrl.bench.suites import SUITES, run_benchmarks

__all__ = ["SUITES", "run_benchmarks"]
