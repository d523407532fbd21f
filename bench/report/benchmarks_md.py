#!/usr/bin/env python3
"""Writes docs/benchmarks.md from the Google Benchmark JSON files of bench/run.

Each figure is the median over the repetitions of one benchmark (the
"iteration" entries of the JSON file, not Google Benchmark's aggregates, so a
single repetition works too). The tuning notes in bench/report/notes.md are
appended unchanged, so a new run keeps the before/after record.
"""

import argparse
import json
import os
import statistics
import sys

NOTES_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "notes.md")
TIME_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}


def load_runs(path):
    """Returns {run_name: [iteration entry, ...]} from one JSON file, or {}."""
    if not os.path.exists(path):
        return {}
    with open(path, encoding="utf-8") as handle:
        data = json.load(handle)
    runs = {}
    for entry in data.get("benchmarks", []):
        if entry.get("run_type") != "iteration" or entry.get("error_occurred"):
            continue
        runs.setdefault(entry["run_name"], []).append(entry)
    return runs


def find_run(runs, prefix):
    """Returns the entries of the first run whose name starts with prefix."""
    for name, entries in runs.items():
        if name.startswith(prefix):
            return entries
    return None


def median_of(entries, field):
    """Returns the median of a counter, or of real_time/cpu_time in seconds."""
    if not entries:
        return None
    values = []
    for entry in entries:
        if field not in entry:
            return None
        value = entry[field]
        if field in ("real_time", "cpu_time"):
            value *= TIME_UNIT_SECONDS[entry["time_unit"]]
        values.append(value)
    return statistics.median(values)


def fmt(value, digits=3):
    if value is None:
        return "not measured"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.{digits}g}"


class Table:
    """Rows of figure, value, limit, ratio to the limit and verdict."""

    def __init__(self):
        self.rows = []

    def add(self, figure, value, limit=None, at_least=False, unit="", note=""):
        limit_text, ratio, verdict = "", "", ""
        if limit is not None:
            limit_text = ("≥ " if at_least else "≤ ") + fmt(limit)
            verdict = "not measured"
        if limit is not None and value is not None:
            ratio = f"{value / limit:.2f}"
            passed = value >= limit if at_least else value <= limit
            verdict = "PASS" if passed else "FAIL"
        value_text = fmt(value)
        if unit and value is not None:
            value_text += f" {unit}"
        self.rows.append((figure, value_text, limit_text, ratio, verdict, note))

    def markdown(self):
        lines = ["| Figure | Median | Limit | Ratio to limit | Verdict | Note |",
                 "|---|---|---|---|---|---|"]
        for row in self.rows:
            lines.append("| " + " | ".join(row) + " |")
        return "\n".join(lines)


# Score sets of bench/scores/score_bench.cc, in report order.
SCORE_SETS = [
    ("msr", "MSR"),
    ("odin_eps", "ODIN (eps > 0)"),
    ("rr_fast", "RR-Fast"),
    ("msr+odin_eps+rr_fast", "MSR + ODIN + RR-Fast"),
    ("msr+odin_eps+rr_fast_same_t", "MSR + ODIN + RR-Fast, shared T"),
    ("rr_bs", "RR-BS (stops at rel. tol. 1e-3)"),
    ("rr_bs_fixed24", "RR-BS, fixed 24 iterations"),
]
MODELS = [("small_cnn", "small CNN"), ("resnet20", "ResNet-20")]
BATCHES = [1, 32, 128]


def score_units(runs, model, score_set, batch):
    """Returns (judged units, wall units, thread-CPU units) of one case."""
    entries = find_run(runs, f"{model}/{score_set}/{batch}/")
    wall = median_of(entries, "forward_units")
    cpu = median_of(entries, "cpu_forward_units")
    return (cpu if cpu is not None else wall), wall, cpu


def scores_section(runs, table):
    lines = ["### Score cost in forward passes", "",
             "Cost of each score in units of one plain inference-mode forward "
             "of the same model and batch (one LibTorch thread). Each cell is "
             "the thread-CPU ratio, with the wall-clock ratio in brackets.", ""]
    for model, model_name in MODELS:
        lines += [f"**{model_name}**", "",
                  "| Score | " + " | ".join(f"batch {b}" for b in BATCHES) + " |",
                  "|---" * (len(BATCHES) + 1) + "|"]
        for score_set, score_name in SCORE_SETS:
            cells = []
            for batch in BATCHES:
                _, wall, cpu = score_units(runs, model, score_set, batch)
                cells.append(f"{fmt(cpu)} ({fmt(wall)})" if cpu is not None
                             else fmt(wall))
            lines.append(f"| {score_name} | " + " | ".join(cells) + " |")
        forward_ms = [median_of(find_run(runs, f"{model}/msr/{b}/"), "forward_ms")
                      for b in BATCHES]
        lines.append("| Plain forward, ms (the unit) | "
                     + " | ".join(fmt(ms) for ms in forward_ms) + " |")
        lines.append("")

        for score_set, batch, limit in (("rr_fast", 128, 2.0),
                                        ("msr+odin_eps+rr_fast", 128, 2.6),
                                        ("rr_fast", 1, 3.0)):
            units, _, _ = score_units(runs, model, score_set, batch)
            name = dict(SCORE_SETS)[score_set]
            # The clean forward with autograd also yields the prediction, so
            # the cost added to serving is about one unit less.
            note = "" if units is None else f"{units - 1:.2f} beyond the prediction's forward"
            table.add(f"{model_name}: {name} at batch {batch}, forward units",
                      units, limit, note=note)

        for batch in BATCHES:
            search = find_run(runs, f"{model}/rr_bs/{batch}/")
            fixed = find_run(runs, f"{model}/rr_bs_fixed24/{batch}/")
            forwards = median_of(search, "forwards_per_image")
            search_time, fixed_time = (median_of(search, "cpu_forward_units"),
                                       median_of(fixed, "cpu_forward_units"))
            if search_time is None or fixed_time is None:
                search_time = median_of(search, "real_time")
                fixed_time = median_of(fixed, "real_time")
            ratio = (search_time / fixed_time
                     if search_time and fixed_time else None)
            table.add(f"{model_name}: RR-BS at batch {batch}, bisection "
                      "forwards per image", forwards, unit="")
            table.add(f"{model_name}: RR-BS at batch {batch}, time / fixed "
                      "24-iteration search", ratio)
    return lines


def metrics_section(runs, table):
    entries = find_run(runs, "BM_AllMetricsAndThresholds")
    table.add("Metrics and thresholds on 10^6 samples, CPU seconds",
              median_of(entries, "cpu_time"), 0.5, unit="s",
              note="single-threaded; wall "
                   f"{fmt(median_of(entries, 'real_time'))} s")
    lines = ["### Metrics on 10^6 samples", "",
             "| Benchmark | CPU time (ms) | Wall time (ms) |", "|---|---|---|"]
    for name, entries in runs.items():
        cpu, wall = median_of(entries, "cpu_time"), median_of(entries, "real_time")
        lines.append(f"| {name} | {fmt(cpu * 1e3)} | {fmt(wall * 1e3)} |")
    return lines + [""]


def best_run(runs, prefix, suffix):
    """Returns (name, images/s) of the fastest run matching prefix and suffix."""
    best = None
    for name, entries in runs.items():
        if not (name.startswith(prefix) and suffix in name):
            continue
        value = median_of(entries, "images_per_s")
        if value is not None and (best is None or value > best[1]):
            best = (name, value)
    return best


def server_section(runs, table):
    lines = ["### Served over gRPC against in-process scoring", "",
             "Small CNN, MSR + ODIN + RR-Fast, uint8 28 x 28 images. gRPC rows "
             "run rat-server as a child process on 127.0.0.1.", "",
             "| Run | images/s | p50 (ms) | p99 (ms) | idle RSS (MiB) | "
             "loaded RSS (MiB) |", "|---|---|---|---|---|---|"]
    for name, entries in runs.items():
        lines.append("| " + " | ".join(
            [name] + [fmt(median_of(entries, field)) for field in
                      ("images_per_s", "p50_ms", "p99_ms", "idle_rss_mib",
                       "loaded_rss_mib")]) + " |")
    lines.append("")

    # Best served rate against the best in-process rate at the same number of
    # intra-op threads. The server batches concurrent requests itself, so
    # comparing equal request sizes would favour it.
    for threads in (1, 2):
        best_grpc = best_run(runs, "BM_Grpc/", f"intra_op:{threads}")
        best_local = best_run(runs, "BM_InProcess/", f"intra_op:{threads}")
        if best_grpc is None or best_local is None:
            continue
        table.add(f"Served / in-process images/s, {threads} intra-op "
                  f"thread(s)", best_grpc[1] / best_local[1], 0.85,
                  at_least=True,
                  note=f"best served {best_grpc[0]}: {fmt(best_grpc[1])}/s; "
                       f"best in-process {best_local[0]}: {fmt(best_local[1])}/s")

    for label, prefix in (("batch 1, one client", "BM_Grpc/batch:1/clients:1/intra_op:1"),
                          ("saturation (batch 1, 16 clients)",
                           "BM_Grpc/batch:1/clients:16/intra_op:1")):
        entries = find_run(runs, prefix)
        table.add(f"gRPC p50 latency at {label}", median_of(entries, "p50_ms"), unit="ms")
        table.add(f"gRPC p99 latency at {label}", median_of(entries, "p99_ms"), unit="ms")

    idle = [median_of(e, "idle_rss_mib") for n, e in runs.items() if n.startswith("BM_Grpc")]
    loaded = [median_of(e, "loaded_rss_mib") for n, e in runs.items() if n.startswith("BM_Grpc")]
    idle = [v for v in idle if v is not None]
    loaded = [v for v in loaded if v is not None]
    table.add("rat-server RSS idle", max(idle) if idle else None, unit="MiB")
    table.add("rat-server RSS under load, max over runs",
              max(loaded) if loaded else None, unit="MiB")
    return lines


def trainer_section(runs, table):
    lines = ["### Training step, small CNN, batch 128, one intra-op thread", "",
             "| Step | Wall ms | CPU ms | images/s (wall) | images per CPU second "
             "| peak RSS (MB) |", "|---|---|---|---|---|---|"]
    steps = {}
    for name, entries in runs.items():
        wall, cpu = median_of(entries, "real_time"), median_of(entries, "cpu_time")
        batch = int(name.split("/")[1])
        steps[name.split("/")[0]] = (wall, cpu, batch)
        lines.append(f"| {name} | {fmt(wall * 1e3)} | {fmt(cpu * 1e3)} | "
                     f"{fmt(batch / wall)} | {fmt(batch / cpu)} | "
                     f"{fmt(median_of(entries, 'peak_rss_MB'))} |")
    lines.append("")

    plain, rat = steps.get("BM_StandardStep"), steps.get("BM_RatStep")
    measured = plain is not None and rat is not None
    table.add("RAT step / plain step, CPU time", rat[1] / plain[1] if measured else None,
              1.6, note="wall ratio " + (fmt(rat[0] / plain[0]) if measured else "not measured"))
    table.add("RAT training images per CPU second", rat[2] / rat[1] if rat else None,
              unit="images/s",
              note="wall " + (fmt(rat[2] / rat[0]) if rat else "not measured"))
    peaks = [median_of(e, "peak_rss_MB") for e in runs.values()]
    peaks = [p for p in peaks if p is not None]
    table.add("Trainer peak RSS (step benchmark process)",
              max(peaks) if peaks else None, unit="MB")
    return lines


def fmnist_rows(results_dir, table):
    """Adds the full Fashion-MNIST RAT run's rows, when it was run."""
    path = os.path.join(results_dir, "fmnist.json")
    result = None
    if os.path.exists(path):
        with open(path, encoding="utf-8") as handle:
            result = json.load(handle)
    name = "Full Fashion-MNIST RAT run, 8 epochs (bench/trainer/fmnist_full_run.sh)"
    table.add(f"{name}: test accuracy",
              result["test_accuracy_percent"] if result else None, 90,
              at_least=True, unit="%")
    table.add(f"{name}: wall time",
              result["wall_seconds"] / 60 if result else None, 15, unit="min")

PYTORCH_FIGURES = [("rr_fast", "RR-Fast"),
                   ("msr+odin_eps+rr_fast", "MSR + ODIN + RR-Fast"),
                   ("msr+odin_eps+rr_fast_same_t", "MSR + ODIN + RR-Fast, shared T")]


def pytorch_section(results_dir, score_runs, table):
    """Compares the PyTorch reference script's ratios with score_bench's."""
    path = os.path.join(results_dir, "pytorch.json")
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as handle:
        reference = json.load(handle)
    lines = ["### PyTorch reference on this machine", "",
             f"`bench/scores/pytorch_reference.py` (PyTorch {reference['torch_version']}, "
             "eager mode, one thread, allocator environment "
             f"`{reference['malloc_env'] or 'glibc defaults'}`) runs the same "
             "passes. The small CNN there is the same network as score_bench's; "
             "the two-layer CNN is the kind of model the score limits were "
             "first measured on.", "",
             "| Model | Figure | Batch | PyTorch forward units | C++ forward units "
             "| PyTorch ms | C++ ms |", "|---|---|---|---|---|---|---|"]
    for record in reference["scores"]:
        cpp_units = cpp_ms = None
        if record["model"] == "small_cnn" and score_runs:
            cpp_units, _, _ = score_units(score_runs, "small_cnn", record["figure"],
                                          record["batch"])
            seconds = median_of(find_run(score_runs, f"small_cnn/{record['figure']}/"
                                         f"{record['batch']}/"), "real_time")
            cpp_ms = None if seconds is None else 1e3 * seconds
        name = dict(PYTORCH_FIGURES).get(record["figure"], record["figure"])
        pytorch_ms = record["forward_units"] * record["forward_ms"]
        lines.append(f"| {record['model']} | {name} | {record['batch']} | "
                     f"{fmt(record['forward_units'])} | {fmt(cpp_units)} | "
                     f"{fmt(pytorch_ms)} | {fmt(cpp_ms)} |")
        if record["model"] == "small_cnn" and record["batch"] == 128 and \
                record["figure"] in ("rr_fast", "msr+odin_eps+rr_fast"):
            table.add(f"PyTorch eager, small CNN: {name} at batch 128, forward units",
                      record["forward_units"], note="reference, no limit")
    lines += ["", "The ms columns are the whole score's median wall time.", "",
              "| Model | RAT step / plain step (wall) | Plain step, ms |",
              "|---|---|---|"]
    for record in reference["steps"]:
        lines.append(f"| {record['model']} | {fmt(record['ratio'])} | "
                     f"{fmt(record['plain_step_ms'])} |")
        if record["model"] == "small_cnn":
            table.add("PyTorch eager, small CNN: RAT step / plain step",
                      record["ratio"], note="reference, no limit")
    return lines + [""]


SECTIONS = [("scores", scores_section), ("server", server_section),
            ("trainer", trainer_section), ("metrics", metrics_section)]


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__)
    for name in ("results-dir", "out", "cpu-model", "cpus", "memory-gib",
                 "started", "commit", "command", "load-before", "load-after",
                 "repetitions", "quick"):
        parser.add_argument(f"--{name}", required=True)
    return parser.parse_args()


def header(args):
    modes = {"1": "quick smoke test (small sizes, not a measurement)",
             "0": "full",
             "report": "report only, from the results of earlier runs"}
    mode = modes.get(args.quick, args.quick)
    return [
        "# Benchmarks", "",
        "Generated by `bench/run`; rerun it to refresh this page. Each figure "
        "is the median over the repetitions of its benchmark, listed per "
        "program below.", "",
        "| | |", "|---|---|",
        f"| Machine | {args.cpu_model}, {args.cpus} CPUs, {args.memory_gib} GiB memory |",
        f"| Date | {args.started} |",
        f"| Commit | {args.commit} |",
        f"| Last command | `{args.command}` |",
        f"| Mode of the last command | {mode} |",
        f"| Load average before the last command (1, 5, 15 min) | {args.load_before} |",
        f"| Load average after it | {args.load_after} |", "",
    ]


def read_marker(results_dir, area, kind):
    """Returns the text bench/run stored in AREA.KIND, or "unknown"."""
    path = os.path.join(results_dir, f"{area}.{kind}")
    if not os.path.exists(path):
        return "unknown"
    with open(path, encoding="utf-8") as handle:
        return handle.read().strip()


def load_context(path):
    """Returns the "context" object of one JSON file (date, load_avg, ...)."""
    with open(path, encoding="utf-8") as handle:
        return json.load(handle).get("context", {})


# Areas that bench/run runs as scripts, with the script each one runs.
SCRIPT_AREAS = [("pytorch", "bench/scores/pytorch_reference.py"),
                ("fmnist", "bench/trainer/fmnist_full_run.sh")]


def script_context(results_dir, area, program):
    """Returns a runs_table entry for a script area from bench/run's markers."""
    load = read_marker(results_dir, area, "load").split()
    context = {"date": read_marker(results_dir, area, "started"),
               "load_avg": [float(value) for value in load
                            if value.replace(".", "", 1).isdigit()],
               "executable": "/" + program}
    return (area, context, 1, read_marker(results_dir, area, "mode"),
            read_marker(results_dir, area, "command"))


def runs_table(contexts):
    lines = ["## Benchmark programs", "",
             "| Area | Command | Program | Mode | Started | Load average at its "
             "start | Repetitions |", "|---|---|---|---|---|---|---|"]
    for area, context, repetitions, mode, command in contexts:
        load = ", ".join(f"{value:.2f}" for value in context.get("load_avg", []))
        executable = context.get("executable", "?")
        program = "bench/" + executable.split("/bench/")[-1]
        lines.append(f"| {area} | `{command}` | `{program}` | {mode} | {context.get('date', '?')} | "
                     f"{load} | {repetitions} |")
    return lines + [""]


def main():
    args = parse_args()
    table = Table()
    details = []
    contexts = []
    runs_by_area = {}
    for area, section in SECTIONS:
        path = os.path.join(args.results_dir, f"{area}.json")
        runs = runs_by_area[area] = load_runs(path)
        if not runs:
            continue
        details += section(runs, table) + [""]
        repetitions = max(len(entries) for entries in runs.values())
        mode = read_marker(args.results_dir, area, "mode")
        command = read_marker(args.results_dir, area, "command")
        contexts.append((area, load_context(path), repetitions, mode, command))

    for area, program in SCRIPT_AREAS:
        if os.path.exists(os.path.join(args.results_dir, f"{area}.json")):
            contexts.append(script_context(args.results_dir, area, program))
    fmnist_rows(args.results_dir, table)
    details += pytorch_section(args.results_dir, runs_by_area["scores"], table)
    lines = header(args)
    lines += runs_table(contexts)
    lines += ["## Figures against their limits", "", table.markdown(), "",
              "## Details", ""] + details
    if os.path.exists(NOTES_PATH):
        with open(NOTES_PATH, encoding="utf-8") as handle:
            lines += [handle.read().rstrip(), ""]
    with open(args.out, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines).rstrip() + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
