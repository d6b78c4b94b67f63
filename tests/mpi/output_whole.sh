#!/usr/bin/env bash
# 3 ranks print at once through nxt's log and print_out/print_err (tests/mpi/output_whole.cpp,
# Note [Output arrives whole] in src/common/log.h); in mpirun's combined output (stdout and
# stderr into one file, as the tests capture a job) every line of theirs must be whole, with its
# log prefix of its own rank, and appear once; every table within 2048 bytes must have its rows
# together, in order; and nothing may be missing. Lines that hold nothing of theirs (a notice of
# the launcher's) are shown, not judged; a piece of one of their lines is never ignored.
#   output_whole.sh [PROGRAM]   (default: $NXT_BIN/nxt_output_whole)
set -uo pipefail
source "$(dirname "$0")/../e2e/lib.sh"
program=${1:-$bin/nxt_output_whole}
ranks=3
[[ -x "$program" ]] || fail "no $program (build first)"
run_bounded 120 "$work/out" "$nxt_mpirun" -np "$ranks" "$program" >/dev/null
[[ $code -eq 0 ]] || { tail -20 "$work/out"; fail "the job exited $code"; }
summary=$(grep -E "^printed: [0-9]+ warnings, [0-9]+ all lines, [0-9]+ tables per rank$" "$work/out")
[[ -n "$summary" ]] || fail "no 'printed:' line from rank 0"
read -r warnings all_lines tables <<<"$(tr -cs '0-9' ' ' <<<"$summary")"

awk -v ranks="$ranks" -v warnings="$warnings" -v all_lines="$all_lines" -v tables="$tables" '
  function problem(why) {
    if (++problems <= 10) printf "%s: line %d: %.160s\n", why, NR, $0
  }
  /^printed: / { next }
  index($0, "whole r") == 0 && $0 !~ /^[a-z]+$/ { print "not judged: " $0; next }
  {
    prefix = ""
    text = $0
    if (match(text, /^\[[0-9][0-9]:[0-9][0-9]:[0-9][0-9] r[0-9]+\] (WARNING: )?/)) {
      prefix = substr(text, 1, RLENGTH)
      text = substr(text, RLENGTH + 1)
    }
    n = split(text, f, " ")
    if (n != 5 || f[1] != "whole" || f[2] !~ /^r[0-9]+$/ || f[4] !~ /^L[0-9]+$/ ||
        f[3] !~ /^([wa][0-9]+|[tT][0-9]+\.[0-9]+\/[0-9]+)$/ || f[5] !~ /^[a-z]+$/ ||
        length(text) != substr(f[4], 2) + 0) {
      problem("torn"); previous = ""; next
    }
    rank = substr(f[2], 2)
    letter = substr(f[5], 1, 1)
    gsub(letter, "", f[5])
    if (f[5] != "" || (letter != sprintf("%c", 97 + 2 * rank) &&
                       letter != sprintf("%c", 98 + 2 * rank))) {
      problem("torn (another line inside)"); previous = ""; next
    }
    kind = substr(f[3], 1, 1)
    want = kind == "w" ? "WARNING: " : ""
    if ((kind == "w" || kind == "a") && prefix !~ ("^\\[.* r" rank "\\] " want "$"))
      problem("wrong log prefix")
    if ((kind == "t" || kind == "T") && prefix != "") problem("a table row with a log prefix")
    key = rank " " f[3]
    if (++seen[key] > 1) problem("printed once, seen twice")
    if (kind == "w") ++count_w[rank]
    if (kind == "a") ++count_a[rank]
    if (kind == "t" || kind == "T") {
      split(substr(f[3], 2), parts, /[.\/]/)  # table, row, rows
      table_key = rank " " parts[1]
      rows[table_key] = parts[3]
      ++rows_seen[table_key]
      if (kind == "t" && parts[2] > 0 && previous != rank " " parts[1] " " parts[2] - 1)
        problem("a row of a table within 2048 bytes apart from the row before")
      previous = rank " " parts[1] " " parts[2]
    } else {
      previous = ""
    }
  }
  END {
    for (r = 0; r < ranks; ++r) {
      if (count_w[r] != warnings)
        printf "missing: rank %d: %d of %d warnings\n", r, count_w[r], warnings
      if (count_a[r] != all_lines)
        printf "missing: rank %d: %d of %d all lines\n", r, count_a[r], all_lines
      for (t = 0; t < tables; ++t)
        if (!((r " " t) in rows) || rows_seen[r " " t] != rows[r " " t])
          printf "missing: rank %d: table %d: %d row(s) seen\n", r, t, rows_seen[r " " t]
    }
    if (problems > 10) printf "... %d problems in all\n", problems
  }
' "$work/out" >"$work/verdict"
cat "$work/verdict"
! grep -qv "^not judged: " "$work/verdict" ||
  fail "torn, misplaced or missing lines in mpirun's output of $ranks ranks (above)"
echo "PASS: $ranks ranks x ($warnings warnings, $all_lines all lines, $tables tables):" \
  "$(wc -l <"$work/out") lines, every one whole, every table within 2048 bytes together"
