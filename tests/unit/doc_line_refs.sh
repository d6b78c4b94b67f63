#!/usr/bin/env bash
# The docs point into the code by line: `src/train/step_loop.cpp:48`. Lines move as the code
# changes, so this check keeps the pointers honest. In README.md and docs/*.md, every code span
# `PATH:LINE` (PATH under src/, data_tools/, tests/, launch/ or cluster/) must name an existing
# file with that line, and when a function's code span comes before it on the same line (a
# table row `| 3 | `Trainer::forward_backward` | `src/train/step_loop.cpp:109` |`, or prose
# "`Reducer::finish_backward` (`src/comm/reducer.cpp:164`)"), the function's unqualified name
# must appear on that line or the 3 after it. It first checks itself: a planted stale reference
# must be flagged and a planted good one must not.
#   tests/unit/doc_line_refs.sh [ROOT]   (ROOT: the repository, default this one)
set -euo pipefail
root=${1:-$(cd "$(dirname "$0")/../.." && pwd)}

# check ROOT: prints one line per stale reference ("doc:line: ..."), nothing when all hold.
check() {
  python3 - "$1" <<'EOF'
import glob, os, re, sys

root = sys.argv[1]
SPAN = re.compile(r"`([^`\n]+)`")
REF = re.compile(r"^((?:src|data_tools|tests|launch|cluster)/[\w./+-]+):(\d+)$")
FUNC = re.compile(r"^(?:[A-Za-z_]\w*::)*~?[A-Za-z_]\w*(?:\(\))?$")
LOOKAHEAD = 3  # a signature may wrap, or a comment line may follow the reference's line

docs = sorted(glob.glob(os.path.join(root, "docs", "*.md")))
if os.path.exists(os.path.join(root, "README.md")):
    docs.insert(0, os.path.join(root, "README.md"))
sources = {}
for doc in docs:
    name = os.path.relpath(doc, root)
    with open(doc, encoding="utf-8") as f:
        lines = f.read().split("\n")
    for number, line in enumerate(lines, 1):
        function = None
        for span in SPAN.findall(line):
            ref = REF.match(span)
            if not ref:
                if FUNC.match(span) and ("::" in span or span.endswith("()")):
                    function = span
                continue
            path, target = ref.group(1), int(ref.group(2))
            where = f"{name}:{number}: `{span}`"
            full = os.path.join(root, path)
            if path not in sources:
                try:
                    with open(full, encoding="utf-8", errors="replace") as f:
                        sources[path] = f.read().split("\n")
                except OSError:
                    sources[path] = None
            text = sources[path]
            if text is None:
                print(f"{where}: no such file {path}")
            elif not 1 <= target <= len(text):
                print(f"{where}: {path} has {len(text)} lines")
            elif function:
                bare = function.rstrip("()").split("::")[-1]
                window = text[target - 1:target + LOOKAHEAD]
                if not any(re.search(r"\b" + re.escape(bare) + r"\b", l) for l in window):
                    found = [i + 1 for i, l in enumerate(text)
                             if re.search(r"\b" + re.escape(bare) + r"\s*\(", l)]
                    hint = f" (it appears at line(s) {', '.join(map(str, found[:5]))})" \
                        if found else ""
                    print(f"{where}: `{function}` is not at {path}:{target}{hint}")
            function = None  # a function pairs with the one reference after it
EOF
}

planted=$(mktemp -d)
trap 'rm -rf "$planted"' EXIT
mkdir -p "$planted/docs" "$planted/src/train"
printf '%s\n' '// planted' 'void Trainer::good_step() {' '}' '' 'void Trainer::moved_step() {' '}' \
  >"$planted/src/train/planted.cpp"
cat >"$planted/docs/planted.md" <<'EOF'
| step | function | where |
| --- | --- | --- |
| 1 | `Trainer::good_step` | `src/train/planted.cpp:2` |
| 2 | `Trainer::moved_step` | `src/train/planted.cpp:1` |
| 3 | `Trainer::gone` | `src/train/missing.cpp:5` |
EOF
found=$(check "$planted")
if ! grep -q 'planted.md:4: .*moved_step.* (it appears at line(s) 5)' <<<"$found" ||
  ! grep -q 'planted.md:5: .*no such file' <<<"$found" || grep -q 'planted.md:3:' <<<"$found"; then
  echo "FAIL: the check did not flag exactly the planted stale references; it printed:" >&2
  echo "${found:-(nothing)}" >&2
  exit 1
fi

found=$(check "$root")
if [[ -n "$found" ]]; then
  echo "FAIL: stale file:line references in the docs (update the line numbers):" >&2
  echo "$found" >&2
  exit 1
fi
count=$(cat "$root/README.md" "$root"/docs/*.md |
  { grep -oE '`(src|data_tools|tests|launch|cluster)/[^`]+:[0-9]+`' || true; } | wc -l)
echo "PASS: $count file:line references in README.md and docs/*.md hold (the planted stale ones were flagged)"
