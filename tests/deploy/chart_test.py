#!/usr/bin/env python3
"""Checks the Helm chart without a cluster or helm binary.

Validates values files against values.schema.json, renders the templates with
deploy/tools/chart-render (Go text/template + Sprig, as Helm does), parses
every rendered manifest, checks the objects the chart promises, and runs
promtool on the rendered PrometheusRule.

  chart_test.py REPO_DIR CHART_RENDER_BINARY
"""
import json
import os
import subprocess
import sys
import tempfile
import unittest

import jsonschema
import yaml

REPO = sys.argv.pop(1) if len(sys.argv) > 2 else os.getcwd()
RENDER = sys.argv.pop(1) if len(sys.argv) > 1 else "chart-render"
CHART = os.path.join(REPO, "helm", "rat-server")


def load_yaml(path):
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f) or {}


def merged_values(*override_files):
    values = load_yaml(os.path.join(CHART, "values.yaml"))
    for path in override_files:
        values = merge(values, load_yaml(path))
    return values


def merge(dst, src):
    for key, value in src.items():
        if isinstance(value, dict) and isinstance(dst.get(key), dict):
            merge(dst[key], value)
        else:
            dst[key] = value
    return dst


def render(*override_files):
    args = [RENDER]
    for path in override_files:
        args += ["-f", path]
    out = subprocess.run(args + [CHART], check=True, capture_output=True,
                         text=True).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def by_kind(docs):
    return {doc["kind"]: doc for doc in docs}


class HelmChartTest(unittest.TestCase):

    def setUp(self):
        with open(os.path.join(CHART, "values.schema.json")) as f:
            self.schema = json.load(f)
        self.full = os.path.join(CHART, "ci", "full-values.yaml")

    def test_default_values_match_schema(self):
        jsonschema.validate(merged_values(), self.schema)

    def test_full_values_match_schema(self):
        jsonschema.validate(merged_values(self.full), self.schema)

    def test_schema_rejects_invalid_device(self):
        values = merged_values(os.path.join(CHART, "ci", "invalid-device.yaml"))
        with self.assertRaises(jsonschema.ValidationError) as raised:
            jsonschema.validate(values, self.schema)
        self.assertEqual("gpu0", raised.exception.instance)

    def test_default_render_has_core_objects(self):
        kinds = by_kind(render())
        self.assertEqual(
            {"ConfigMap", "Deployment", "Service", "ServiceAccount",
             "PodDisruptionBudget"}, set(kinds))
        for doc in kinds.values():
            self.assertEqual("release-rat-server", doc["metadata"]["name"])

    def test_probes_use_native_grpc(self):
        container = by_kind(render())["Deployment"]["spec"]["template"][
            "spec"]["containers"][0]
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            self.assertEqual({"port": 50051}, container[probe]["grpc"])

    def test_config_map_sets_listen_addresses(self):
        config = yaml.safe_load(
            by_kind(render())["ConfigMap"]["data"]["server.yaml"])
        self.assertEqual("0.0.0.0:50051", config["listen"])
        self.assertEqual("0.0.0.0:9090", config["metrics_listen"])
        self.assertEqual("fmnist", config["models"][0]["name"])

    def test_full_render_has_optional_objects(self):
        kinds = by_kind(render(self.full))
        for kind in ("ServiceMonitor", "HorizontalPodAutoscaler",
                     "PrometheusRule"):
            self.assertIn(kind, kinds)
        self.assertNotIn("replicas", kinds["Deployment"]["spec"])

    def test_gpu_request_sets_limit(self):
        container = by_kind(render(self.full))["Deployment"]["spec"][
            "template"]["spec"]["containers"][0]
        self.assertEqual(1, container["resources"]["limits"]["nvidia.com/gpu"])
        self.assertEqual("4Gi", container["resources"]["limits"]["memory"])

    def test_prometheus_rule_passes_promtool(self):
        rule = by_kind(render(self.full))["PrometheusRule"]
        levels = rule["spec"]["groups"][0]["rules"]
        self.assertEqual("vector(0.1)", levels[0]["expr"])
        with tempfile.NamedTemporaryFile("w", suffix=".yml") as f:
            yaml.safe_dump({"groups": rule["spec"]["groups"]}, f)
            f.flush()
            subprocess.run(["promtool", "check", "rules", f.name], check=True,
                           capture_output=True)


if __name__ == "__main__":
    unittest.main(verbosity=2)
