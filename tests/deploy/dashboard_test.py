#!/usr/bin/env python3
"""Checks the Grafana dashboard: every query parses as PromQL (promtool) once
the dashboard variables are substituted, and the panels operators rely on
exist.

  dashboard_test.py REPO_DIR
"""
import json
import os
import re
import subprocess
import sys
import tempfile
import unittest

import yaml

REPO = sys.argv.pop(1) if len(sys.argv) > 1 else os.getcwd()
DASHBOARD = os.path.join(REPO, "deploy", "grafana", "rat-server.json")

# Values that make the variables valid PromQL.
VARIABLES = {"$__rate_interval": "5m", "$model": "fmnist", "$score": "rr_fast"}


def queries(dashboard):
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            yield panel["title"], target["expr"]


class GrafanaDashboardTest(unittest.TestCase):

    def setUp(self):
        with open(DASHBOARD, encoding="utf-8") as f:
            self.dashboard = json.load(f)

    def test_queries_parse_as_promql(self):
        rules = []
        for i, (_, expr) in enumerate(queries(self.dashboard)):
            for name, value in VARIABLES.items():
                expr = expr.replace(name, value)
            rules.append({"record": f"dashboard:query_{i}", "expr": expr})
        with tempfile.NamedTemporaryFile("w", suffix=".yml") as f:
            yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]},
                           f)
            f.flush()
            result = subprocess.run(["promtool", "check", "rules", f.name],
                                    capture_output=True, text=True)
        self.assertEqual(0, result.returncode, result.stdout + result.stderr)

    def test_has_operator_panels(self):
        titles = " | ".join(p["title"] for p in self.dashboard["panels"])
        for word in ("Rejection rate", "score distribution", "latency",
                     "batch size", "Queue depth"):
            self.assertIn(word.lower(), titles.lower())

    def test_uses_only_server_metrics(self):
        exported = {
            "rat_requests_total", "rat_request_duration_seconds_bucket",
            "rat_queue_duration_seconds_bucket",
            "rat_compute_duration_seconds_bucket", "rat_batch_size_sum",
            "rat_batch_size_count", "rat_queue_depth", "rat_predictions_total",
            "rat_rejections_total", "rat_confidence_score_bucket",
            "rat_model_ready"}
        for title, expr in queries(self.dashboard):
            for metric in re.findall(r"\b(rat_[a-z_]+)", expr):
                self.assertIn(metric, exported, title)


if __name__ == "__main__":
    unittest.main(verbosity=2)
