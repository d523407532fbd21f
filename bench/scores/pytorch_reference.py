#!/usr/bin/env python3
"""Measures the same score and training-step ratios in PyTorch (eager mode).

The score targets were set from PyTorch measurements on a comparable CNN.
This script repeats them on this machine with two models: the small CNN of
score_bench (four 3x3 convolutions with batch norm, two 2x2 max poolings, two
linear layers) and a two-layer CNN (two convolutions, two poolings, one
linear layer). Everything runs with one thread, and every iteration times a
plain inference forward and the measured work back to back, as score_bench
and rat_step_bench do.

Usage: pytorch_reference.py [--out FILE] [--iterations N]
Writes JSON with one record per (model, figure, batch) and prints a table.
"""

import argparse
import json
import os
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class SmallCnn(nn.Module):
    def __init__(self):
        super().__init__()
        widths = [1, 16, 16, 32, 32]
        self.convs = nn.ModuleList(
            nn.Conv2d(widths[i], widths[i + 1], 3, padding=1, bias=False)
            for i in range(4))
        self.norms = nn.ModuleList(nn.BatchNorm2d(w) for w in widths[1:])
        self.fc1 = nn.Linear(32 * 7 * 7, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = (x - 0.286) / 0.353
        for i in range(4):
            x = F.relu(self.norms[i](self.convs[i](x)))
            if i in (1, 3):
                x = F.max_pool2d(x, 2)
        return self.fc2(F.relu(self.fc1(x.flatten(1))))


class TwoLayerCnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, padding=1)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
        self.fc = nn.Linear(64 * 7 * 7, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return self.fc(x.flatten(1))


def plain_forward(model, images):
    with torch.inference_mode():
        return model(images)


def confidence_sign(model, images, temperatures):
    """Returns the confidence gradient signs, one per temperature.

    Runs one forward with autograd and one input-only backward per
    temperature.
    """
    inputs = images.clone().requires_grad_(True)
    logits = model(inputs)
    labels = logits.argmax(1, keepdim=True)
    signs = []
    for i, temperature in enumerate(temperatures):
        objective = torch.log_softmax(logits / temperature, 1).gather(1, labels)
        retain = i + 1 < len(temperatures)
        (gradient,) = torch.autograd.grad(objective.sum(), inputs,
                                          retain_graph=retain)
        signs.append(gradient.sign())
    return signs


def rr_fast(model, images):
    (sign,) = confidence_sign(model, images, [1.0])
    with torch.inference_mode():
        model((images - 1e-3 * sign).clamp(0, 1))


def msr_odin_rr_fast(temperatures):
    def run(model, images):
        signs = confidence_sign(model, images, temperatures)
        with torch.inference_mode():
            model((images - 1e-3 * signs[0]).clamp(0, 1))
            model((images + 1e-3 * signs[-1]).clamp(0, 1))
    return run


def train_step(method):
    """Returns a plain step, or the RAT step (two forwards, two backwards)."""
    def run(model, optimizer, images, labels):
        optimizer.zero_grad()
        if method == "standard":
            F.cross_entropy(model(images), labels).backward()
            optimizer.step()
            return
        inputs = images.clone().requires_grad_(True)
        logits = model(inputs)
        F.cross_entropy(logits, labels).backward()
        correct = (logits.argmax(1) == labels).float().view(-1, 1, 1, 1)
        direction = inputs.grad.sign() * (2 * correct - 1)
        perturbed = (images + 1e-3 * direction).clamp(0, 1).detach()
        F.cross_entropy(model(perturbed), labels).backward()
        optimizer.step()
    return run


def median_ratio(work, unit, iterations):
    for _ in range(3):
        unit()
        work()
    work_times, unit_times = [], []
    for _ in range(iterations):
        start = time.perf_counter()
        unit()
        unit_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        work()
        work_times.append(time.perf_counter() - start)
    unit_median = statistics.median(unit_times)
    return statistics.median(work_times) / unit_median, unit_median


def score_records(iterations):
    records = []
    figures = {
        "rr_fast": rr_fast,
        "msr+odin_eps+rr_fast": msr_odin_rr_fast([1000.0, 1.0]),
        "msr+odin_eps+rr_fast_same_t": msr_odin_rr_fast([1.0]),
    }
    for model_name, model in (("small_cnn", SmallCnn()),
                              ("two_layer_cnn", TwoLayerCnn())):
        model.eval()
        for batch in (1, 128):
            images = torch.rand(batch, 1, 28, 28)
            for figure, work in figures.items():
                ratio, forward = median_ratio(
                    lambda: work(model, images),
                    lambda: plain_forward(model, images), iterations)
                records.append({"model": model_name, "figure": figure,
                                "batch": batch, "forward_units": ratio,
                                "forward_ms": 1e3 * forward})
    return records


def step_records(iterations):
    records = []
    for model_name, factory in (("small_cnn", SmallCnn),
                                ("two_layer_cnn", TwoLayerCnn)):
        model = factory().train()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        images = torch.rand(128, 1, 28, 28)
        labels = torch.randint(0, 10, (128,))
        plain = train_step("standard")
        rat = train_step("rat")
        ratio, step = median_ratio(
            lambda: rat(model, optimizer, images, labels),
            lambda: plain(model, optimizer, images, labels), iterations)
        records.append({"model": model_name, "figure": "rat_step/plain_step",
                        "batch": 128, "ratio": ratio,
                        "plain_step_ms": 1e3 * step})
    return records


def parse_args():
    parser = argparse.ArgumentParser(
        description="Measures score costs in forward passes and the RAT step "
        "against a plain step in eager PyTorch, for comparison with "
        "score_bench and rat_step_bench. The script sets no allocator "
        "settings itself; bench/run runs it with the MALLOC_* values our "
        "binaries use. Few iterations give noisy medians.")
    parser.add_argument("--out", help="also write the records as JSON here "
                        "(the table is always printed)")
    parser.add_argument("--iterations", type=int, default=15,
                        help="timed iterations per figure (default 15)")
    args = parser.parse_args()
    if args.iterations < 1:
        parser.error(f"--iterations expects a positive integer, got "
                     f"{args.iterations}")
    return args


def main():
    args = parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    result = {
        "torch_version": torch.__version__,
        "malloc_env": {key: os.environ[key] for key in sorted(os.environ)
                       if key.startswith("MALLOC_")},
        "scores": score_records(args.iterations),
        "steps": step_records(args.iterations),
    }
    for record in result["scores"]:
        print(f"{record['model']:14} {record['figure']:28} "
              f"batch {record['batch']:3}: {record['forward_units']:.2f} "
              f"forward units (forward {record['forward_ms']:.2f} ms)")
    for record in result["steps"]:
        print(f"{record['model']:14} RAT step / plain step at batch 128: "
              f"{record['ratio']:.2f} (plain {record['plain_step_ms']:.1f} ms)")
    if args.out:
        with open(args.out, "w", encoding="utf-8") as out:
            json.dump(result, out, indent=1)


if __name__ == "__main__":
    main()
