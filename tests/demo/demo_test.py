#!/usr/bin/env python3
"""Runs scripts/demo in quick mode on the real Fashion-MNIST files and checks
that the comparison table has every model, score and metric, all finite.

  demo_test.py REPO_DIR BUILD_DIR
"""
import json
import math
import os
import subprocess
import sys
import tempfile
import unittest

REPO, BUILD = sys.argv[1:3]
del sys.argv[1:3]

MODELS = ("fmnist-standard", "fmnist-rat")
SCORES = ("msr", "odin", "rr_fast", "rr_bs")


class DemoTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.TemporaryDirectory()
        cls.result = subprocess.run(
            [os.path.join(REPO, "scripts", "demo"), "--quick", "--skip-setup",
             "--bin-dir", BUILD, "--out", cls.dir.name, "--threads", "2"],
            capture_output=True, text=True, timeout=1500)

    @classmethod
    def tearDownClass(cls):
        cls.dir.cleanup()

    def report(self, model):
        path = os.path.join(self.dir.name, "reports", f"{model}.json")
        with open(path, encoding="utf-8") as f:
            return json.load(f)

    def test_quick_run_succeeds(self):
        self.assertEqual(0, self.result.returncode,
                         self.result.stdout[-3000:] + self.result.stderr[-3000:])

    def test_table_lists_every_model_and_score(self):
        table = self.result.stdout.split("paper protocol", 1)[-1]
        for model in MODELS:
            for score in SCORES:
                rows = [line for line in table.splitlines()
                        if line.split()[:2] == [model, score]]
                self.assertEqual(1, len(rows), f"{model} {score}\n{table}")

    def test_reports_have_finite_metrics(self):
        for model in MODELS:
            report = self.report(model)
            self.assertEqual(3, report["repeats"])
            self.assertTrue(math.isfinite(report["accuracy"]["mean"]))
            self.assertEqual(set(SCORES),
                             {score["score"] for score in report["scores"]})
            for score in report["scores"]:
                for metric in ("aurc_x1000", "auroc", "fpr95_percent"):
                    for field in ("mean", "std"):
                        value = score["repeats"][metric][field]
                        self.assertTrue(math.isfinite(value),
                                        f"{model} {score['score']} {metric}")

    def test_html_reports_written(self):
        for model in MODELS:
            path = os.path.join(self.dir.name, "reports", f"{model}.html")
            self.assertGreater(os.path.getsize(path), 1000)


if __name__ == "__main__":
    unittest.main(verbosity=2)
