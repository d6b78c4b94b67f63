"""The device check's figures, read from what each side wrote; prints table rows, one per line,
as LABEL<TAB>VALUE (tests/gpu/check.sh appends them to its table). Standard library only: the
device machine's python3 is only known to have torch.

  figures.py nxt RUN_DIR NXT_LOG       nxt_ddp's images/s (metrics.csv), its step split per step
                                       (train_log.jsonl, rank 0: data, compute, communication,
                                       optimizer) and its peak memory, over the epochs after the
                                       first (which warms up: cuDNN's search, the allocator)
  figures.py reference JSON            the PyTorch eager reference's line (torch_reference.py)
  figures.py ratio NXT_ROWS REF_ROWS   nxt / PyTorch from the two outputs above
  figures.py gtest LOG LABEL [TEST_LABEL TEST]...
                                       each TEST's result and message (a test that failed for
                                       want of a GPU says so: "NO GPU here"), then under LABEL
                                       the run's counts (also of a run cut short)
"""
import csv
import json
import re
import sys

NXT_IPS = "nxt_ddp images/s"
REF_IPS = "PyTorch eager images/s"


def rows(pairs):
    for label, value in pairs:
        print(f"{label}\t{value}")


def nxt(run_dir, log_path):
    with open(f"{run_dir}/metrics.csv") as f:
        epochs = list(csv.DictReader(f))
    timed = epochs[1:] or epochs  # one epoch only: it is all there is
    ips = sum(float(e["images_per_s"]) for e in timed) / len(timed)
    out = [(NXT_IPS, "%.1f (epochs %s-%s, 1 rank)" % (ips, timed[0]["epoch"], timed[-1]["epoch"]))]

    lines = [json.loads(line) for line in open(f"{run_dir}/train_log.jsonl") if line.strip()]
    records = [r for r in lines if "ranks" in r]
    later = [r for r in records if r["epoch"] >= 2] or records
    phases = (("data", "data_ms"), ("compute", "compute_ms"),
              ("communication", "allreduce_wait_ms"), ("optimizer", "optimizer_ms"))
    steps = sum(r["ranks"][0]["steps"] for r in later)
    if steps:
        per_step = {name: sum(r["ranks"][0][key] * r["ranks"][0]["steps"] for r in later) / steps
                    for name, key in phases}
        total = sum(per_step.values())
        split = ", ".join("%s %.1f" % (name, ms) for name, ms in per_step.items())
        out.append(("nxt_ddp step split (ms/step)",
                    "%s; sum %.1f over %d steps (train_log.jsonl)" % (split, total, steps)))
    else:
        out.append(("nxt_ddp step split (ms/step)", "no step records in train_log.jsonl"))

    peak = max((r.get("peak_memory_bytes", 0) for r in later), default=0) / 2**30
    text = open(log_path, errors="replace").read()
    gpu = re.findall(r"peak GPU memory ([0-9.]+ GiB) allocated, ([0-9.]+ GiB) reserved", text)
    if gpu:
        out.append(("nxt_ddp peak memory", "%.2f GiB allocated, %s reserved" % (peak, gpu[-1][1])))
    else:
        out.append(("nxt_ddp peak memory", "%.2f GiB RSS (CPU run)" % peak))
    rows(out)


def reference(path):
    r = json.loads(open(path).read().strip().splitlines()[-1])
    out = [(REF_IPS, "%.1f (%s)" % (r["images_per_s"], r["model"]))]
    if "peak_allocated_gib" in r:
        out.append(("PyTorch eager peak memory", "%.2f GiB allocated, %.2f GiB reserved"
                    % (r["peak_allocated_gib"], r["peak_reserved_gib"])))
    else:
        out.append(("PyTorch eager peak memory", "%.2f GiB RSS (CPU run)" % r["peak_rss_gib"]))
    rows(out)


def ratio(nxt_rows, ref_rows):
    def images_per_s(path, label):
        for line in open(path):
            name, _, value = line.rstrip("\n").partition("\t")
            if name == label:
                return float(value.split()[0])
        raise SystemExit(f"no '{label}' in {path}")
    rows([("ratio nxt / PyTorch (images/s)",
           "%.3f" % (images_per_s(nxt_rows, NXT_IPS) / images_per_s(ref_rows, REF_IPS)))])


GTEST_END = re.compile(r"^\[ +(OK|FAILED|SKIPPED) +\] (\S+)(?: \((\d+) ms\))?$")
NO_GPU = ("no CUDA device", "built without CUDA", "no GPU")
NO_CODECS = "NXT_WITH_IMAGE_CODECS=OFF"  # the check's build has no image codecs


SUITE_SETUP_FAILED = re.compile(r"^\[  FAILED  \] (\S+): SetUpTestSuite or TearDownTestSuite$")


def gtest_results(path):
    """{test: (status, ms, message lines)} in run order, the test running when the log ends, and
    the suites whose set-up failed (their tests are reported skipped)."""
    results, running, message, suites = {}, None, [], []
    for line in open(path, errors="replace").read().splitlines():
        line = re.sub(r"\x1b\[[0-9;]*m", "", line)
        suite = SUITE_SETUP_FAILED.match(line)
        if suite:
            suites.append(suite.group(1))
            continue
        if line.startswith("[ RUN      ] "):
            running, message = line[13:].strip(), []
            continue
        end = GTEST_END.match(line)
        if end and end.group(2) == running and end.group(3) is not None:
            results[running] = (end.group(1), end.group(3), message)
            running = None
        elif running and line.strip() and not re.search(r"(: (Failure|Skipped)|^Failed)$", line):
            message.append(line.strip())
    return results, running, suites


def gtest(path, label, *pairs):
    results, running, suites = gtest_results(path)
    count = {s: [t for t, r in results.items() if r[0] == s] for s in ("OK", "FAILED", "SKIPPED")}
    # Failures for want of a GPU or of image codecs are counted apart: they say what is missing.
    wants = {"a GPU": [], "image codecs": []}
    for test in list(count["FAILED"]):
        why = " ".join(results[test][2])
        want = "a GPU" if any(s in why for s in NO_GPU) else "image codecs" if NO_CODECS in why else None
        if want:
            wants[want].append(test)
            count["FAILED"].remove(test)
    text = "%d passed, %d failed, %d skipped" % tuple(len(count[s]) for s in ("OK", "FAILED", "SKIPPED"))
    text += "".join(", %d failed for want of %s" % (len(t), w) for w, t in wants.items() if t)
    if count["FAILED"]:
        text += " (failed: %s%s)" % (", ".join(count["FAILED"][:6]),
                                     ", ..." if len(count["FAILED"]) > 6 else "")
    if suites:
        text += "; %d suite(s) failed to set up, their tests skipped: %s%s" % (
            len(suites), ", ".join(suites[:4]), ", ..." if len(suites) > 4 else "")
    if running:
        text += "; the log ends inside %s (cut short)" % running
    elif not results:
        text = "no test ran (%s)" % path
    out = []
    for test_label, test in zip(pairs[::2], pairs[1::2]):
        status, ms, message = results.get(test, ("not run", "", []))
        why = " ".join(message)[:200]
        if status == "FAILED" and any(s in why for s in NO_GPU):
            value = "NO GPU here: " + why
        elif status == "OK":
            value = "OK (%s ms)" % ms
        else:
            value = status + (": " + why if why else "")
        out.append((test_label, "%s [%s]" % (value, test)))
    rows(out + [(label, text)])


if __name__ == "__main__":
    commands = {"nxt": nxt, "reference": reference, "ratio": ratio, "gtest": gtest}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        raise SystemExit(__doc__)
    commands[sys.argv[1]](*sys.argv[2:])
