#!/usr/bin/env python3
"""Turns the results of scripts/bench/run.sh into docs/performance.md.

Reads results.tsv (one line per timed run, plus `fact` lines for sizes and outputs) and each
tree's generated.json, and writes the figures, the ratios against the issue's targets, how
cost grows with N, and the machine it ran on. Every number in the page comes from that one
run; nothing is carried over from earlier runs.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
from collections import defaultdict

PREFERRED = "100000"  # the size the targets are stated at


class Figure:
    """All runs of one command on one tree."""

    def __init__(self):
        self.walls, self.cpus, self.peaks, self.failure = [], [], [], None

    def add(self, wall_us, user, system, peak_kb, status, note):
        if status != 0:
            self.failure = f"exit {status}: {note}"
            return
        self.walls.append(wall_us / 1e6)
        self.cpus.append(user + system)
        self.peaks.append(peak_kb * 1024)

    @property
    def ok(self):
        return self.failure is None and bool(self.walls)

    @property
    def wall(self):
        return statistics.median(self.walls)

    @property
    def cpu(self):
        return statistics.median(self.cpus)

    @property
    def peak(self):
        return max(self.peaks)


def read_results(path):
    figures = defaultdict(Figure)
    facts = defaultdict(dict)
    order = []
    with open(path) as f:
        for line in f:
            cells = line.rstrip("\n").split("\t")
            if cells[0] == "fact":
                _, key, tree, value = (cells + [""])[:4]
                facts[tree][key] = value
                continue
            group, figure, tree, _run, wall, _e, user, system, peak, status = cells[:10]
            note = cells[10] if len(cells) > 10 else ""
            key = (tree, group, figure)
            if key not in figures:
                order.append(key)
            figures[key].add(int(wall), float(user), float(system), int(peak), int(status), note)
    return figures, facts, order


# formatting ---------------------------------------------------------------------------------


def seconds(value):
    if value is None:
        return "–"
    if value == 0:
        return "< 10 ms"  # GNU time reports CPU time in hundredths of a second
    if value < 1:
        return f"{value * 1000:.1f} ms"
    return f"{value:.2f} s"


def mib(value):
    return "–" if value is None else f"{value / 2**20:,.1f} MiB"


def ratio(value, digits=2):
    return "–" if value is None else f"{value:.{digits}f}x"


def count(value):
    return f"{int(value):,}"


def command_output(*argv):
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return (out.stdout or out.stderr).strip()


def machine():
    model = ""
    for line in command_output("lscpu").splitlines():
        if line.startswith("Model name:"):
            model = line.split(":", 1)[1].strip()
    memory = ""
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 2**20:.1f} GiB"
    return {"cpus": command_output("nproc"), "model": model or platform.processor(),
            "memory": memory, "kernel": platform.release()}


def versions(binary):
    zip_line = next((l for l in command_output("zip", "-v").splitlines() if "Zip " in l), "zip")
    return [("rulecut", command_output(binary, "--version").splitlines()[0:1] or ["?"]),
            ("rustc", [command_output("rustc", "--version")]),
            ("zip", [zip_line.strip()]),
            ("sha256sum", command_output("sha256sum", "--version").splitlines()[0:1]),
            ("suricata-update", [command_output("suricata-update", "--version")]),
            ("python3", [platform.python_version()])]


# the page -----------------------------------------------------------------------------------


class Report:
    def __init__(self, args):
        self.args = args
        self.figures, self.facts, self.order = read_results(args.results)
        self.trees = []
        for tree, _, _ in self.order:
            if tree not in self.trees:
                self.trees.append(tree)
        self.generated = {}
        for tree in self.trees:
            name = "corpus" if tree == "corpus" else f"tree-{tree}-{args.seed}"
            path = os.path.join(args.work, name, "generated.json")
            if os.path.exists(path):
                self.generated[tree] = json.load(open(path))
        self.lines = []
        self.kinds = args.kinds.split()

    def rule_bytes(self, tree):
        """The size on disk of the rules measured: the kinds chosen, of the tree's."""
        kinds = self.generated.get(tree, {}).get("kinds", {})
        return sum(v["bytes"] for k, v in kinds.items() if k in self.kinds) or None

    def get(self, tree, group, figure):
        found = self.figures.get((tree, group, figure))
        return found if found and found.ok else None

    def baseline(self, tree):
        parts = [self.get(tree, "baseline", name) for name in ("zip", "sha256sum", "signify")]
        if not all(parts):
            return None
        total = Figure()
        total.walls = [sum(p.wall for p in parts)]
        total.cpus = [sum(p.cpu for p in parts)]
        total.peaks = [max(p.peak for p in parts)]
        return total

    def fact(self, tree, key):
        value = self.facts.get(tree, {}).get(key)
        try:
            return float(value)
        except (TypeError, ValueError):
            return None

    def target_tree(self):
        sizes = [t for t in self.trees if t != "corpus"]
        if PREFERRED in sizes:
            return PREFERRED
        return sizes[-1] if sizes else (self.trees[0] if self.trees else None)

    def out(self, text=""):
        self.lines.append(text)

    def write(self):
        self.head()
        self.targets()
        for tree in self.trees:
            self.tree_table(tree)
        self.growth()
        self.where_time_goes()
        self.method()
        os.makedirs(os.path.dirname(os.path.abspath(self.args.out)), exist_ok=True)
        with open(self.args.out, "w") as f:
            f.write("\n".join(self.lines).rstrip() + "\n")

    def head(self):
        m = machine()
        commit = command_output("git", "-C", self.args.root, "rev-parse", "--short", "HEAD")
        # The page itself is not a change to the code it measures.
        page = os.path.relpath(os.path.abspath(self.args.out), self.args.root)
        dirty = command_output("git", "-C", self.args.root, "status", "--porcelain", "--",
                               ".", f":(exclude){page}")
        self.out("# Performance")
        self.out()
        self.out("What a release costs, measured against standard tools doing the bare minimum "
                 "of the same work on the same files, in the same run. Ratios are what count: "
                 "these machines are shared and noisy, so absolute times move from run to run. "
                 "This page is written by the benchmark; do not edit it by hand.")
        self.out()
        self.out("Regenerate it from the project root with:")
        self.out()
        self.out("```sh")
        self.out(self.args.command)
        self.out("```")
        self.out()
        self.out(f"- Run: {self.args.started}, rulecut at commit `{commit}`"
                 f"{' with uncommitted changes' if dirty else ''}.")
        self.out(f"- Machine: {m['cpus']} CPUs ({m['model']}), {m['memory']} memory, "
                 f"Linux {m['kernel']}; load average at the start / end {self.args.load}.")
        tools = "; ".join(f"{name}: {v[0] if v and v[0] else 'not installed'}"
                          for name, v in versions(self.args.bin))
        self.out(f"- Tools: {tools}.")
        busy = float(self.args.load.split()[0])
        if m["cpus"].isdigit() and busy > int(m["cpus"]):
            self.out(f"- **The machine was busy** (load average {busy} on {m['cpus']} CPUs at "
                     "the start): wall times include waiting for other processes, so compare "
                     "CPU times too.")
        if self.kinds != ["ips", "li", "fw", "im"]:
            self.out(f"- **Only the kinds {', '.join(self.kinds)} were measured**, on both "
                     "sides: rulecut's release.yaml and the baseline's zip hold only those.")
        self.out()

    # targets --------------------------------------------------------------------------------

    def targets(self):
        tree = self.target_tree()
        if tree is None:
            return
        rows = []
        build = self.get(tree, "rulecut", "build")
        base = self.baseline(tree)
        failure = self.failure(tree, "rulecut", "build")

        bundle, zipped = self.fact(tree, "bundle_bytes"), self.fact(tree, "zip_bytes")
        rows.append(("bundles together ≤ 1.1x the baseline's zip of the same files",
                     self.compare(bundle, zipped, lambda r: r <= 1.1,
                                  f"{count(bundle) if bundle else '–'} B vs "
                                  f"{count(zipped) if zipped else '–'} B", failure)))
        rows.append((f"`build` ≤ 1.0x baseline wall time",
                     self.compare(build and build.wall, base and base.wall, lambda r: r <= 1.0,
                                  f"{seconds(build and build.wall)} vs {seconds(base and base.wall)}"
                                  + self.cpu_ratio(build, base), failure)))
        rows.append(("`build` 100k → 1M ≤ 11x time", self.growth_target()))
        rows.append(("`build` peak memory ≤ 2x rule set size on disk (largest tree)",
                     self.memory_target()))
        quiet = self.get(tree, "rulecut", "scheduled, nothing due")
        rows.append(("`scheduled`, nothing due < 20 ms",
                     self.absolute(quiet and quiet.wall, lambda v: v < 0.020, seconds,
                                   self.failure(tree, "rulecut", "scheduled, nothing due"))))
        unchanged = self.get(tree, "rulecut", "scheduled, due, unchanged")
        rows.append(("`scheduled`, due but unchanged < 10% of a full build",
                     self.compare(unchanged and unchanged.wall, build and build.wall,
                                  lambda r: r < 0.10,
                                  f"{seconds(unchanged and unchanged.wall)} vs "
                                  f"{seconds(build and build.wall)}"
                                  + self.cpu_ratio(unchanged, build),
                                  self.failure(tree, "rulecut", "scheduled, due, unchanged")
                                  or failure)))
        merge = self.get(tree, "suricata-update", "merge")
        for figure, what in (("check, IPS only", "reading, parsing and checking, as "
                              "suricata-update reads, parses and merges"),
                             ("build, IPS only", "a whole release: also compressing, signing, "
                              "notes and publishing")):
            ips = self.get(tree, "rulecut", figure)
            rows.append((f"IPS ≥ 10x suricata-update throughput: `{figure}` ({what})",
                         self.compare(merge and merge.wall, ips and ips.wall, lambda r: r >= 10,
                                      f"suricata-update {seconds(merge and merge.wall)} vs "
                                      f"rulecut {seconds(ips and ips.wall)}"
                                      + self.cpu_ratio(merge, ips),
                                      self.failure(tree, "rulecut", figure)
                                      or self.failure(tree, "suricata-update", "merge"))))
        rate = self.fact(tree, "verify_hash_rate")
        rows.append(("`verify` hashing ≥ 1 GB/s (verify's SHA-256 of every file of the release, "
                     "on one thread: `examples/hash_release.rs`)",
                     self.absolute(rate, lambda v: v >= 1e9, lambda v: f"{v / 1e9:.2f} GB/s",
                                   self.failure(tree, "rulecut", "verify") or failure)))
        label = "corpus" if tree == "corpus" else f"{int(tree):,} rules"
        self.out(f"## Targets ({label})")
        self.out()
        self.out("| target | measured | status |")
        self.out("| --- | --- | --- |")
        for name, (measured, status) in rows:
            self.out(f"| {name} | {measured} | {status} |")
        self.out()

    @staticmethod
    def cpu_ratio(value, reference):
        """The same ratio in CPU time, which other processes on the machine disturb less."""
        if not value or not reference or not value.cpu or not reference.cpu:
            return ""
        return (f"; in CPU time {ratio(value.cpu / reference.cpu)} ({seconds(value.cpu)} vs "
                f"{seconds(reference.cpu)})")

    def failure(self, tree, group, figure):
        found = self.figures.get((tree, group, figure))
        if found is None:
            return "not measured"
        return found.failure

    @staticmethod
    def compare(value, reference, good, detail, failure):
        if value is None or not reference:
            return detail, f"not measured ({failure or 'missing'})"
        r = value / reference
        return f"{ratio(r)} ({detail})", "met" if good(r) else "**missed**"

    @staticmethod
    def absolute(value, good, show, failure):
        if value is None:
            return "–", f"not measured ({failure or 'missing'})"
        return show(value), "met" if good(value) else "**missed**"

    def growth_target(self):
        small = self.get("100000", "rulecut", "build")
        large = self.get("1000000", "rulecut", "build")
        if not small or not large:
            reason = (self.failure("1000000", "rulecut", "build")
                      or self.failure("100000", "rulecut", "build") or "needs both sizes")
            return "–", f"not measured ({reason})"
        r = large.wall / small.wall
        return (f"{ratio(r)} ({seconds(small.wall)} → {seconds(large.wall)})",
                "met" if r <= 11 else "**missed**")

    def memory_target(self):
        """Judged at the largest generated tree: at small sizes the process's fixed memory
        (code, allocator, thread stacks) outweighs the rules."""
        sizes = sorted((t for t in self.trees if t != "corpus"), key=int)
        if not sizes:
            return "–", "not measured (no generated tree)"
        tree = sizes[-1]
        build, size = self.get(tree, "rulecut", "build"), self.rule_bytes(tree)
        if not build or not size:
            return "–", f"not measured ({self.failure(tree, 'rulecut', 'build')})"
        r = build.peak / size
        return (f"{ratio(r)} at {int(tree):,} rules ({mib(build.peak)} for {mib(size)})",
                "met" if r <= 2 else "**missed**")

    # per tree -------------------------------------------------------------------------------

    def tree_table(self, tree):
        gen = self.generated.get(tree, {})
        if tree == "corpus":
            self.out(f"## Corpus (`{gen.get('corpus', '../shared/corpus')}`)")
            self.out()
            self.out("ET Open's Suricata rules and Wazuh v3.12.0's rule XML, read in place; the "
                     "corpus has no firewall or integrity-monitoring rules.")
        else:
            self.out(f"## {int(tree):,} generated rules")
        self.out()
        kinds = gen.get("kinds", {})
        if kinds:
            described = ", ".join(f"{k}: {count(v['rules'])} rules in {v['files']} files, "
                                  f"{mib(v['bytes'])}" for k, v in kinds.items())
            measured = self.rule_bytes(tree) or 0
            self.out(f"Rule set: {mib(gen.get('bytes', 0))} on disk ({described}); "
                     f"measured here: {mib(measured)} ({', '.join(self.kinds)}).")
            self.out()
        self.out("| figure | wall | CPU | peak memory | note |")
        self.out("| --- | ---: | ---: | ---: | --- |")
        for key in self.order:
            if key[0] != tree:
                continue
            _, group, figure = key
            found = self.figures[key]
            name = f"{group} `{figure}`" if group in ("rulecut",) else f"{group}: {figure}"
            if found.ok:
                runs = len(found.walls)
                self.out(f"| {name} | {seconds(found.wall)} | {seconds(found.cpu)} | "
                         f"{mib(found.peak)} | median of {runs} |")
            else:
                self.out(f"| {name} | – | – | – | failed, {found.failure} |")
            if group == "baseline" and figure == "signify":
                base = self.baseline(tree)
                if base:
                    self.out(f"| **baseline total** (zip + sha256sum + signify) | "
                             f"{seconds(base.wall)} | {seconds(base.cpu)} | {mib(base.peak)} | "
                             "sum of medians; peak of the three |")
        self.out()
        notes = []
        bundle, zipped = self.fact(tree, "bundle_bytes"), self.fact(tree, "zip_bytes")
        if zipped:
            notes.append(f"baseline zip {count(zipped)} bytes"
                         + (f", rulecut's bundles {count(bundle)} bytes ({ratio(bundle / zipped)})"
                            if bundle else ""))
        index = self.fact(tree, "index_bytes")
        if bundle and index:
            notes.append(f"of the bundles' bytes, {index / bundle:.0%} are their compressed "
                         f"`index.json` ({count(index)} bytes); the rule files alone take "
                         f"{count(bundle - index)} bytes, "
                         f"{ratio((bundle - index) / zipped) if zipped else '–'} the baseline zip")
        rezipped = self.fact(tree, "rezip_bytes")
        if bundle and rezipped:
            notes.append(f"`zip -X -r` of exactly the entries the bundles hold (rule files and "
                         f"`index.json`) takes {count(rezipped)} bytes: the bundles are "
                         f"{ratio(bundle / rezipped)} that, the same compression")
        notes_bytes = self.fact(tree, "notes_bytes")
        if notes_bytes:
            notes.append(f"the release notes (Markdown and JSON) take {count(notes_bytes)} bytes "
                         "in this first release, which lists every rule as new")
        hyper = self.fact(tree, "nothing_due_hyperfine_s")
        if hyper:
            notes.append(f"hyperfine's median for `scheduled`, nothing due: {seconds(hyper)}")
        for key, label in (("nothing_due_said", "`scheduled`, nothing due, said"),
                           ("due_unchanged_said", "`scheduled`, due but unchanged, said")):
            text = self.facts.get(tree, {}).get(key, "").strip()
            if text:
                notes.append(f"{label} `{text}`")
        figures = (("rulecut `build`", self.get(tree, "rulecut", "build, IPS only")),
                   ("rulecut `check`", self.get(tree, "rulecut", "check, IPS only")),
                   ("suricata-update", self.get(tree, "suricata-update", "merge")))
        rules = kinds.get("ips", {}).get("rules")
        if rules and any(fig for _, fig in figures):
            parts = [f"{name} {count(rules / fig.wall)} rules/s" for name, fig in figures if fig]
            notes.append("IPS throughput: " + ", ".join(parts))
        verify = self.get(tree, "rulecut", "verify")
        released = self.fact(tree, "release_bytes")
        if verify and released:
            notes.append(f"`verify` as a whole, which also inflates and checks every entry and "
                         f"reads every rule's place in the index, takes the release's "
                         f"{count(released)} bytes at {released / verify.wall / 1e9:.2f} GB/s")
        for note in notes:
            self.out(f"- {note[0].upper() + note[1:]}.")
        if notes:
            self.out()

    # growth ---------------------------------------------------------------------------------

    def growth(self):
        sizes = sorted((t for t in self.trees if t != "corpus"), key=int)
        if len(sizes) < 2:
            return
        self.out("## How cost grows with N")
        self.out()
        self.out("Each ratio is the figure at this size over the figure at the size before; "
                 "linear growth is the ratio of the sizes (10x for a tenfold step).")
        self.out()
        head = " | ".join(f"{int(s):,}" for s in sizes)
        self.out(f"| figure | {head} |")
        self.out("| --- |" + " ---: |" * len(sizes))
        series = [("rulecut `build` wall", "rulecut", "build", "wall", seconds),
                  ("rulecut `build` CPU", "rulecut", "build", "cpu", seconds),
                  ("rulecut `build` peak memory", "rulecut", "build", "peak", mib),
                  ("rulecut `check` wall", "rulecut", "check", "wall", seconds),
                  ("rulecut `verify` wall", "rulecut", "verify", "wall", seconds),
                  ("rulecut `scheduled`, due, unchanged, wall", "rulecut",
                   "scheduled, due, unchanged", "wall", seconds),
                  ("baseline zip wall", "baseline", "zip", "wall", seconds),
                  ("suricata-update wall", "suricata-update", "merge", "wall", seconds)]
        for label, group, figure, attr, show in series:
            cells, before = [], None
            for size in sizes:
                found = self.get(size, group, figure)
                if not found:
                    cells.append("–")
                    before = None
                    continue
                value = getattr(found, attr)
                step = f" ({ratio(value / before, 1)})" if before else ""
                cells.append(show(value) + step)
                before = value
            if any(c != "–" for c in cells):
                self.out(f"| {label} | " + " | ".join(cells) + " |")
        self.out()

    # where time goes ------------------------------------------------------------------------

    def where_time_goes(self):
        self.out("## Where the time goes")
        self.out()
        wrote = False
        for tree in self.trees:
            build, check = self.get(tree, "rulecut", "build"), self.get(tree, "rulecut", "check")
            if build and check and build.cpu:
                where = "corpus" if tree == "corpus" else f"{int(tree):,} rules"
                self.out(f"- {where}: `check` (collect, parse, validate) takes "
                         f"{seconds(check.cpu)} of CPU time against `build`'s "
                         f"{seconds(build.cpu)} ({check.cpu / build.cpu:.0%}); the rest is "
                         "diffing, packaging, hashing, signing, notes and publishing.")
                wrote = True
        sizes = sorted((t for t in self.trees if t != "corpus"), key=int)
        if sizes:
            stderr = os.path.join(self.args.work, f"build-{sizes[-1]}.stderr")
            if os.path.exists(stderr):
                text = open(stderr, errors="replace").read().strip().splitlines()[:30]
                if text:
                    self.out()
                    self.out(f"`build` of {int(sizes[-1]):,} rules said on stderr:")
                    self.out()
                    self.out("```text")
                    self.out("\n".join(text))
                    self.out("```")
                    wrote = True
            profiled = PREFERRED if PREFERRED in sizes else sizes[-1]
            profile = os.path.join(self.args.work, f"perf-{profiled}.txt")
            if os.path.exists(profile) and os.path.getsize(profile):
                self.out()
                self.out(f"`perf record` of `build` at {int(profiled):,} rules (shares of "
                         "all samples, both threads; entries of 1% or more):")
                self.out()
                self.out("```text")
                self.out(open(profile).read().rstrip())
                self.out("```")
                wrote = True
        if not wrote:
            self.out("Nothing to say yet: `build` and `check` did not both run.")
        self.out()

    def method(self):
        self.out("## How it is measured")
        self.out()
        self.out("- Each figure is one command under GNU `time -f '%e %U %S %M'`: wall time from "
                 "bash's microsecond clock around it, CPU time as user plus system (children "
                 "included; GNU time's resolution is 10 ms), peak memory as the largest resident "
                 "set of the process tree. The median of the runs is shown; peak memory is the "
                 "largest.")
        self.out("- Wall time well above CPU time for a command that runs on one thread means "
                 "it waited: for the disk, or for other processes on these shared 2-core "
                 "machines (see the load average above). Compare CPU times then.")
        self.out("- A run counts only when it did its job: `build` must print a release folder "
                 "holding `SHA256SUMS` and `manifest.json`, `scheduled` must leave the expected "
                 "releases, and, as negative controls run once, `check` must reject a broken "
                 "rule and `verify` a release with one altered byte. A figure that fails says "
                 "why in its row.")
        self.out("- Trees come from `scripts/bench/generate.py N SEED DIR`: 70% Suricata rule "
                 "lines of 400 to 600 bytes (a fifth commented out), 20% OSSEC/Wazuh XML, 5% "
                 "firewall and 5% integrity-monitoring YAML, deterministic from the seed.")
        self.out("- Baseline: in the tree, `zip -q -X -r base.zip ips li fw im` (the corpus: "
                 "the same rule files rulecut reads, named on the command line), then "
                 "`sha256sum base.zip`, then `signify-openbsd -S -s KEY -m base.zip` with a key "
                 "from `signify-openbsd -G -n`. Its total is the sum of the three.")
        self.out("- rulecut: `build -c release.yaml --at 2026-12-01T09:00:00Z --out DIR` into an "
                 "empty folder; `check -c release.yaml`; `verify RELEASE --key KEY.pub` of that "
                 "release, beside `sha256sum -c SHA256SUMS` and `signify-openbsd -C` of it.")
        self.out("- `verify` hashing: `examples/hash_release.rs` runs `digest::sha256_file`, the "
                 "stream hash `verify` uses, over every file of that release on one thread, "
                 "from the page cache; the best of three rounds after one to warm the cache. "
                 "`verify` itself spreads the files over both cores.")
        self.out("- `scheduled`: the 1 December 2026 09:00 slot is cut first; from that state "
                 "(restored before each run) `--now 2026-12-04T12:00:00Z` has nothing due, and "
                 "`--now 2026-12-08T09:30:00Z` is the next slot with unchanged rules.")
        self.out("- IPS throughput: `build` and `check` of a release.yaml holding only the IPS "
                 "source, "
                 "against `suricata-update --no-test --no-reload --local IPS_DIR` with an empty "
                 "`file://` source (so it does not fall back to fetching ET Open) and an empty "
                 "distribution rule folder (so it merges exactly the same rules).")


def main():
    parser = argparse.ArgumentParser()
    for name in ("results", "work", "out", "command", "started", "load", "seed", "root", "bin",
                 "kinds"):
        parser.add_argument(f"--{name}", required=True)
    Report(parser.parse_args()).write()


if __name__ == "__main__":
    main()
