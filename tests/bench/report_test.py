"""Checks that bench/report/benchmarks_md.py turns result files into verdicts.

Writes a small results folder (Google Benchmark JSON for the scores and the
training step, the PyTorch reference and the Fashion-MNIST run), runs the
report generator on it and checks rows of the generated page exactly.
"""

import json
import os
import subprocess
import sys
import tempfile
import unittest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GENERATOR = os.path.join(REPO, "bench", "report", "benchmarks_md.py")


def iteration(name, real_ms, cpu_ms, **counters):
    entry = {"name": name, "run_name": name, "run_type": "iteration",
             "real_time": real_ms, "cpu_time": cpu_ms, "time_unit": "ms"}
    entry.update(counters)
    return entry


def score_run(name, units, forward_ms):
    return iteration(name, units * forward_ms, units * forward_ms,
                     forward_units=units, cpu_forward_units=units,
                     forward_ms=forward_ms)


def write_json(folder, name, data):
    with open(os.path.join(folder, name), "w", encoding="utf-8") as out:
        json.dump(data, out)


def write_results(folder):
    context = {"date": "2026-01-01T00:00:00+00:00", "load_avg": [0.5, 0.4, 0.3],
               "executable": "/build/bench/scores/score_bench"}
    write_json(folder, "scores.json", {"context": context, "benchmarks": [
        score_run("small_cnn/msr/128/iterations:7/manual_time", 1.0, 10.0),
        score_run("small_cnn/rr_fast/128/iterations:7/manual_time", 3.5, 10.0),
        score_run("small_cnn/rr_fast/1/iterations:30/manual_time", 2.5, 0.2),
    ]})
    context = dict(context, executable="/build/bench/trainer/rat_step_bench")
    write_json(folder, "trainer.json", {"context": context, "benchmarks": [
        iteration("BM_StandardStep/128", 50.0, 50.0, peak_rss_MB=400.0),
        iteration("BM_RatStep/128", 75.0, 75.0, peak_rss_MB=410.0),
    ]})
    write_json(folder, "pytorch.json", {
        "torch_version": "1.13", "malloc_env": {},
        "scores": [{"model": "small_cnn", "figure": "rr_fast", "batch": 128,
                    "forward_units": 3.0, "forward_ms": 15.0}],
        "steps": [{"model": "small_cnn", "figure": "rat_step/plain_step",
                   "batch": 128, "ratio": 2.0, "plain_step_ms": 40.0}]})
    write_json(folder, "fmnist.json", {"wall_seconds": 1200,
                                       "test_accuracy_percent": 89.5,
                                       "epochs": 8})
    for kind, text in (("started", "2026-01-01T01:00:00+00:00"),
                       ("load", "0.1 0.2 0.3"), ("command", "bench/run"),
                       ("mode", "full")):
        with open(os.path.join(folder, f"fmnist.{kind}"), "w",
                  encoding="utf-8") as out:
            out.write(text + "\n")


def generate(folder):
    out = os.path.join(folder, "benchmarks.md")
    args = {"results-dir": folder, "out": out, "cpu-model": "Test CPU",
            "cpus": "2", "memory-gib": "4.0", "started": "now",
            "commit": "abc", "command": "bench/run", "load-before": "0 0 0",
            "load-after": "0 0 0", "repetitions": "1", "quick": "0"}
    command = [sys.executable, GENERATOR]
    for key, value in args.items():
        command += [f"--{key}", value]
    subprocess.run(command, check=True)
    with open(out, encoding="utf-8") as handle:
        return handle.read().splitlines()


class BenchReportTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.folder = tempfile.TemporaryDirectory()
        write_results(cls.folder.name)
        cls.lines = generate(cls.folder.name)

    @classmethod
    def tearDownClass(cls):
        cls.folder.cleanup()

    def test_score_limit_verdicts(self):
        self.assertIn("| small CNN: RR-Fast at batch 128, forward units | 3.5 "
                      "| ≤ 2 | 1.75 | FAIL | 2.50 beyond the prediction's "
                      "forward |", self.lines)
        self.assertIn("| small CNN: RR-Fast at batch 1, forward units | 2.5 "
                      "| ≤ 3 | 0.83 | PASS | 1.50 beyond the prediction's "
                      "forward |", self.lines)

    def test_training_step_ratio(self):
        self.assertIn("| RAT step / plain step, CPU time | 1.5 | ≤ 1.6 | 0.94 "
                      "| PASS | wall ratio 1.5 |", self.lines)

    def test_fmnist_rows(self):
        name = ("Full Fashion-MNIST RAT run, 8 epochs "
                "(bench/trainer/fmnist_full_run.sh)")
        self.assertIn(f"| {name}: test accuracy | 89.5 % | ≥ 90 | 0.99 | FAIL "
                      "|  |", self.lines)
        self.assertIn(f"| {name}: wall time | 20 min | ≤ 15 | 1.33 | FAIL |  |",
                      self.lines)
        self.assertIn("| fmnist | `bench/run` | "
                      "`bench/trainer/fmnist_full_run.sh` | full | "
                      "2026-01-01T01:00:00+00:00 | 0.10, 0.20, 0.30 | 1 |",
                      self.lines)

    def test_pytorch_comparison(self):
        self.assertIn("| small_cnn | RR-Fast | 128 | 3 | 3.5 | 45 | 35 |",
                      self.lines)
        self.assertIn("| small_cnn | 2 | 40 |", self.lines)


if __name__ == "__main__":
    unittest.main()
