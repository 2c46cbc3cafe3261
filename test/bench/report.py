#!/usr/bin/python3
"""report.py: turn the benchmark CSV into docs/benchmarks.md and its plots.

    report.py RESULTS.csv OUTDIR MACHINE COMMAND

RESULTS.csv holds the lines written by reset_matrix.sh, purge_matrix.sh,
overhead.sh and worker_memory.sh.  The page has one table per benchmark,
the ratios the targets are about (and whether each is met), the machine
and the command; the plots are PNG files drawn by gnuplot.
"""

import collections
import csv
import datetime
import os
import subprocess
import sys
import tempfile


def load(path):
    rows = collections.defaultdict(list)
    with open(path, newline="") as f:
        for line in csv.reader(f):
            if line:
                rows[line[0]].append(line[1:])
    return rows


def fmt_n(n):
    return "{:,}".format(int(n))


def fmt_s(s):
    s = float(s)
    return "%.3f s" % s if s < 10 else "%.1f s" % s


def verdict(ok):
    return "met" if ok else "**missed**"


def plot(outdir, name, title, xlabel, ylabel, series, logx=True, logy=True):
    """series: {label: [(x, y), ...]}; writes OUTDIR/NAME.png with gnuplot."""
    series = {k: sorted(v) for k, v in series.items() if v}
    if not series:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        plots = []
        for i, (label, points) in enumerate(sorted(series.items())):
            data = os.path.join(tmp, "s%d.dat" % i)
            with open(data, "w") as f:
                for x, y in points:
                    f.write("%s %s\n" % (x, y))
            plots.append("'%s' using 1:2 with linespoints title '%s'" % (data, label.replace("'", "")))
        script = [
            "set terminal pngcairo size 900,560 noenhanced" if has_cairo() else "set terminal png size 900,560 noenhanced",
            "set output '%s'" % os.path.join(outdir, name + ".png"),
            "set title '%s'" % title,
            "set xlabel '%s'" % xlabel,
            "set ylabel '%s'" % ylabel,
            "set key outside right",
            "set grid",
        ]
        if logx:
            script.append("set logscale x")
        if logy:
            script.append("set logscale y")
        script.append("plot " + ", ".join(plots))
        subprocess.run(["gnuplot"], input="\n".join(script), text=True, check=True)
    return name + ".png"


def has_cairo():
    out = subprocess.run(["gnuplot", "-e", "set terminal"], capture_output=True, text=True)
    return "pngcairo" in (out.stdout + out.stderr)


def main():
    results, outdir, machine, command = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
    data = load(results)
    out = []
    w = out.append
    w("# Benchmarks")
    w("")
    w("Measured on %s, %s, with `%s` (every number on this page comes from that one run; "
      "ratios compare methods measured side by side in it)." % (machine, datetime.date.today().isoformat(), command))
    w("")

    # ---- reset -----------------------------------------------------------------
    reset = collections.defaultdict(dict)
    for shape, size, method, secs in data.get("reset", []):
        reset[(shape, int(size))][method] = float(secs)
    if reset:
        w("## Emptying the database")
        w("")
        w("Each method runs `BEGIN; ...; COMMIT;` on a fresh copy of the same template (median of 3; the "
          "foreign-key-ordered DELETE once). *bare*: exact counts and one multi-table `TRUNCATE ... RESTART "
          "IDENTITY`; *loop*: one `TRUNCATE ... RESTART IDENTITY CASCADE` per table; *ORM*: `DELETE` in "
          "foreign-key order and sequence restarts; *plan*: `reset_plan()` with exact counts, and with "
          "`estimate => true`.")
        w("")
        w("| shape | bare | loop | ORM DELETE | reset_execute | reset / bare | ORM / reset | plan | plan (estimate) |")
        w("|---|---|---|---|---|---|---|---|---|")
        for (shape, size), m in sorted(reset.items()):
            label = ("20 tables, %s rows" % fmt_n(size)) if shape == "rows" else ("%s tables x 10 rows" % fmt_n(size))
            w("| %s | %s | %s | %s | %s | %.2f | %.0f | %s | %s |" % (
                label, fmt_s(m["bare"]), fmt_s(m["loop"]), fmt_s(m["orm"]), fmt_s(m["reset"]),
                m["reset"] / m["bare"], m["orm"] / m["reset"], fmt_s(m["plan"]), fmt_s(m["plan_est"])))
        w("")
        targets = []
        if ("rows", 1000000) in reset:
            m = reset[("rows", 1000000)]
            targets.append("1 M rows: reset / bare = %.2f (target at most 1.3: %s); ORM / reset = %.0f (target at least 50: %s)"
                           % (m["reset"] / m["bare"], verdict(m["reset"] / m["bare"] <= 1.3),
                              m["orm"] / m["reset"], verdict(m["orm"] / m["reset"] >= 50)))
        for t in (200, 1000):
            if ("tables", t) in reset:
                m = reset[("tables", t)]
                targets.append("%d small tables: reset / bare = %.2f (target at most 0.5: %s)"
                               % (t, m["reset"] / m["bare"], verdict(m["reset"] / m["bare"] <= 0.5)))
        for line in targets:
            w("* " + line)
        w("")
        for shape, xlabel, name in (("rows", "rows in 20 tables", "bench-reset-rows"),
                                    ("tables", "tables of 10 rows", "bench-reset-tables")):
            series = collections.defaultdict(list)
            for (sh, size), m in reset.items():
                if sh != shape:
                    continue
                for method, secs in m.items():
                    series[{"bare": "counts + one TRUNCATE", "loop": "TRUNCATE per table", "orm": "DELETE in FK order",
                            "reset": "reset_execute", "plan": "reset_plan", "plan_est": "reset_plan (estimate)"}[method]] \
                        .append((size, secs))
            png = plot(outdir, name, "Emptying the database: " + xlabel, xlabel, "seconds (log)", series)
            if png:
                w("![%s](%s)" % (xlabel, png))
                w("")

    # ---- purge -----------------------------------------------------------------
    purge = collections.defaultdict(dict)
    mem = {}
    for backend, size, tool, secs, rate, anon in data.get("purge", []):
        purge[(backend, int(size))][tool] = (float(secs), float(rate))
        if tool == "reset_system" and anon:
            mem[(backend, int(size))] = int(anon)
    if purge:
        w("## Purging storage")
        w("")
        w("The same set of objects (in directories of 200) is seeded for each tool in turn on servers on "
          "127.0.0.1: s3rver 3.7.1, nginx with WebDAV, the GCS test double (`test/lib/gcs_double.py`), a local "
          "directory. reset_system is timed from the reset's commit to the end of its purge; the peers send one "
          "request per object and run up to 20,000 objects.")
        w("")
        w("| backend | objects | tool | time | objects/s | reset_system's speed-up | worker memory |")
        w("|---|---|---|---|---|---|---|")
        for (backend, size), tools in sorted(purge.items()):
            ours = tools.get("reset_system")
            for tool, (secs, rate) in sorted(tools.items(), key=lambda kv: kv[0] != "reset_system"):
                speedup = "" if tool == "reset_system" or not ours else "%.1fx" % (secs / ours[0])
                memory = ("%s kB" % fmt_n(mem[(backend, size)])) if tool == "reset_system" and (backend, size) in mem else ""
                w("| %s | %s | %s | %s | %s | %s | %s |" % (backend, fmt_n(size), tool, fmt_s(secs), fmt_n(rate),
                                                            speedup, memory))
        w("")
        for (backend, size), tools in sorted(purge.items()):
            if backend == "s3" and "reset_system" in tools and len(tools) > 1:
                best = min(v[0] for k, v in tools.items() if k != "reset_system")
                x = best / tools["reset_system"][0]
                w("* S3, %s objects: %.1fx the fastest peer (target at least 4x: %s)" % (fmt_n(size), x, verdict(x >= 4)))
        w("")
        series = collections.defaultdict(list)
        for (backend, size), tools in purge.items():
            for tool, (secs, rate) in tools.items():
                series["%s: %s" % (backend, tool)].append((size, rate))
        png = plot(outdir, "bench-purge", "Purge throughput", "objects", "objects per second (log)", series)
        if png:
            w("![purge throughput](%s)" % png)
            w("")

    # ---- overhead and memory -------------------------------------------------------
    over = collections.defaultdict(dict)
    for workload, scale, mode, median, low, high in data.get("overhead", []):
        over[workload][mode] = (float(median), float(low), float(high))
    if over:
        w("## Overhead on ordinary transactions")
        w("")
        w("pgbench (scale 10, 2 clients), the same server restarted with and without "
          "`shared_preload_libraries = 'reset_system'`, rounds alternating ABBA; median TPS, "
          "and the range of the runs. Select-only gives the commit hook its largest share; "
          "TPC-B like runs with `synchronous_commit = off` so that flush times do not decide.")
        w("")
        w("| workload | preloaded (median, range) | without (median, range) | ratio | verdict |")
        w("|---|---|---|---|---|")
        for workload in sorted(over):
            p, q = over[workload]["preloaded"], over[workload]["plain"]
            r = p[0] / q[0]
            noise = q[1] <= p[0] <= q[2]
            w("| %s | %s (%s to %s) | %s (%s to %s) | %.3f | %s |"
              % (workload, fmt_n(p[0]), fmt_n(p[1]), fmt_n(p[2]), fmt_n(q[0]), fmt_n(q[1]), fmt_n(q[2]), r,
                 "under 1%% slower: %s; within the noise of the runs without: %s"
                 % (verdict(r >= 0.99), "yes" if noise else "no")))
        w("")
    memory = data.get("memory", [])
    if memory:
        w("## Purge worker memory")
        w("")
        w("| queued objects | peak private memory (RssAnon) | peak resident (VmHWM) | purge time |")
        w("|---|---|---|---|")
        for _, objects, anon, hwm, secs in memory:
            w("| %s | %s kB | %s kB | %s |" % (fmt_n(objects), fmt_n(anon), fmt_n(hwm), fmt_s(secs)))
        w("")
        peaks = sorted((int(m[1]), int(m[2])) for m in memory)
        peak = max(p for _, p in peaks)
        growth = peaks[-1][1] / peaks[0][1]
        w("* Largest private peak %s kB; the largest queue's peak is %.2fx the smallest's "
          "(target: flat and under 64 MB: %s). VmHWM also counts the shared buffers the worker touched."
          % (fmt_n(peak), growth, verdict(peak < 64 * 1024 and growth < 1.5)))
        w("")
    checks = data.get("storage_check", [])
    if checks:
        w("## Storage check of the file backend")
        w("")
        w("| keys | what | seconds (median of 5) |")
        w("|---|---|---|")
        for _, keys, what, secs in checks:
            w("| %s | %s | %s |" % (fmt_n(keys), what, fmt_s(secs)))
        w("")
        sampled = [float(c[3]) for c in checks if c[2] == "check with keys"]
        if sampled:
            w("* The check with the keys samples at most 200 directories (target: under 1 s at 1,000,000 keys: %s)."
              % verdict(max(sampled) < 1.0))
            w("")
    with open(os.path.join(outdir, "benchmarks.md"), "w") as f:
        f.write("\n".join(out))


if __name__ == "__main__":
    main()
