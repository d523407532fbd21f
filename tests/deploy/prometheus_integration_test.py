#!/usr/bin/env python3
"""Integration test: rat-server scraped by a real Prometheus with the
project's rules.

Serves a two-class model whose MSR is 0.5 on gray images and close to 1 on
white ones, rejects predictions with MSR below 0.9, sends a known mix of both
through rat-client, and reads rat:rejection_rate:ratio_rate5m back through
Prometheus's HTTP API. Everything listens on 127.0.0.1 only.

  prometheus_integration_test.py REPO_DIR RAT_SERVER RAT_CLIENT
"""
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse
import urllib.request

REPO, RAT_SERVER, RAT_CLIENT = sys.argv[1:4]
del sys.argv[1:4]

GRAY_IMAGES = 7   # MSR 0.5: rejected
WHITE_IMAGES = 13  # MSR ~1: accepted

MODEL_SCRIPT = """
import json, sys, torch

class Brightness(torch.nn.Module):
    # Two classes whose logits are +-10 * (mean pixel - 0.5).
    def forward(self, x):
        s = 10.0 * (x.mean(dim=(1, 2, 3)) - 0.5)
        return torch.stack([s, -s], dim=1)

card = {"name": "brightness", "inputShape": {"channels": 1, "height": 2,
        "width": 2}, "classNames": ["bright", "dark"]}
torch.jit.save(torch.jit.script(Brightness()), sys.argv[1],
               _extra_files={"model_card.json": json.dumps(card)})
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what, check, timeout_s=60.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value is not None:
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


class PrometheusIntegrationTest(unittest.TestCase):

    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.processes = []
        work = self.dir.name
        self.bundle = os.path.join(work, "brightness.pt")
        # TorchScript compiles from source, so the script must be a file.
        script = self.write("make_bundle.py", MODEL_SCRIPT)
        subprocess.run(["/usr/bin/python3", script, self.bundle], check=True)

    def tearDown(self):
        for process, log in self.processes:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            log.close()
        self.dir.cleanup()

    def start(self, args, log_name):
        log = open(os.path.join(self.dir.name, log_name), "w")
        process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        self.processes.append((process, log))
        return process

    def write(self, name, text):
        path = os.path.join(self.dir.name, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return path

    def start_server(self):
        self.grpc = f"127.0.0.1:{free_port()}"
        self.metrics = f"127.0.0.1:{free_port()}"
        config = self.write("server.yaml", f"""
listen: "{self.grpc}"
metrics_listen: "{self.metrics}"
models:
  - name: brightness
    path: "{self.bundle}"
    default_scores: [msr]
    reject: {{score: msr, threshold: 0.9}}
""")
        self.start([RAT_SERVER, "--config", config], "server.log")
        wait_for("rat-server to serve", lambda: subprocess.run(
            [RAT_CLIENT, "health", "--server", self.grpc],
            capture_output=True).returncode == 0 or None)

    def start_prometheus(self):
        self.prometheus = f"127.0.0.1:{free_port()}"
        rules = os.path.join(REPO, "deploy", "prometheus", "rules.yml")
        config = self.write("prometheus.yml", f"""
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: ["{rules}"]
scrape_configs:
  - job_name: rat-server
    static_configs: [{{targets: ["{self.metrics}"]}}]
""")
        self.start(["prometheus", f"--config.file={config}",
                    f"--storage.tsdb.path={self.dir.name}/tsdb",
                    f"--web.listen-address={self.prometheus}"],
                   "prometheus.log")

    def query(self, expr):
        url = (f"http://{self.prometheus}/api/v1/query?" +
               urllib.parse.urlencode({"query": expr}))
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                body = json.load(response)
        except OSError:
            return []
        return body["data"]["result"] if body.get("status") == "success" else []

    def scalar(self, expr):
        result = self.query(expr)
        return float(result[0]["value"][1]) if len(result) == 1 else None

    def send_images(self):
        import numpy
        files = []
        for i in range(GRAY_IMAGES + WHITE_IMAGES):
            value = 0.5 if i < GRAY_IMAGES else 1.0
            path = os.path.join(self.dir.name, f"image{i}.npy")
            numpy.save(path, numpy.full((1, 2, 2), value, dtype=numpy.float32))
            files.append(path)
        result = subprocess.run(
            [RAT_CLIENT, "predict", "--server", self.grpc, "--model",
             "brightness", "--top-k", "1", "--json"] + files,
            capture_output=True, text=True)
        self.assertEqual(0, result.returncode, result.stderr)

    def test_records_rejection_rate(self):
        self.start_server()
        self.start_prometheus()
        # Counters must be scraped at 0 before traffic, or rate() has no
        # starting point.
        wait_for("the first scrape", lambda: self.scalar(
            'rat_predictions_total{model="brightness"}') == 0 or None)

        self.send_images()
        total = GRAY_IMAGES + WHITE_IMAGES
        scraped_at = wait_for("the predictions to be scraped", lambda: self.scalar(
            f'timestamp(rat_predictions_total{{model="brightness"}} == {total})'))
        self.assertEqual(GRAY_IMAGES, self.scalar(
            'rat_rejections_total{model="brightness",score="msr"}'))

        # Before the traffic the rule is 0/0 (NaN); wait for an evaluation
        # that saw the scrape holding every prediction.
        rule = 'rat:rejection_rate:ratio_rate5m{model="brightness",score="msr"}'
        wait_for("the recording rule", lambda: (
            (self.scalar(f"timestamp({rule})") or 0) > scraped_at or None))
        self.assertAlmostEqual(GRAY_IMAGES / total, self.scalar(rule), places=9)


if __name__ == "__main__":
    unittest.main(verbosity=2)
