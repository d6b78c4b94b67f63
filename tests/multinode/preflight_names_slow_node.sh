#!/usr/bin/env bash
# nxt_ddp --preflight (src/preflight/) on simulated nodes and on this one, 1 s per measurement:
#  (a) 2 fake nodes x 1 rank, nothing slowed: exit 0 on every rank, one table row per node
#      (fakenode2, fakenode3, each with its link to the other), the "within 80%" verdict, and
#      preflight.json in the run folder with the same nodes, a link figure each way and the
#      nccl-tests sweep (1 KB to 256 MB, x4; busbw = algbw x 2(n-1)/n, here x1);
#  (b) 3 fake nodes x 1 rank through mpirun --hostfile, NXT_SLOW_PREFLIGHT_RANK=1 (rank 1's
#      compute, reads and sends take 4x as long): exit 3 on every rank, fakenode3 named below 80% of the median for compute,
#      read and its link to fakenode4, and nothing else named (with 3 nodes the median is a clean
#      node's, so a clean node is named only if the verdict is wrong); busbw = algbw x 4/3;
#  (c) launch/nxt_mpirun -np 2 on this machine: one node, one row holding ranks 0-1 with an
#      intra-node all-reduce figure and no inter-node links. Its verdict is not asserted (0 or 3):
#      nxt_mpirun binds each rank to one core, and on a shared 2-core machine whatever else runs
#      there slows one of them; (a) asserts the clean verdict, with unbound ranks.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
require_fake_nodes
make_tiny_dataset "$work"
config=$(tiny_config "$work" preflight)
args=(--config "$config" --preflight --preflight-seconds 1 --set run.threads_per_rank=1)
below="below 80% of the median"

# table_rows OUT: the per-node rows of the report (they start with the node's index, then host).
table_rows() { grep -E "^[0-9]+ +[A-Za-z0-9.-]+ +[0-9,-]+ " "$1"; }
# exits_with OUT STATUS RANKS: every rank printed that it exits with STATUS.
exits_with() {
  local r
  for ((r = 0; r < $3; r++)); do
    grep -q "r$r\] preflight: rank $r exits with status $2" "$1" ||
      fail "rank $r did not say it exits with status $2"
  done
}
# check_json FILE PYTHON: runs PYTHON with the report loaded as `j`.
check_json() {
  [[ -f "$1" ]] || fail "no $1"
  py "
import json
j = json.load(open('$1'))
$2
" || fail "preflight.json: the check above failed"
}

# (a) clean, 2 nodes
fake_launch 2 1
run_bounded 120 "$work/out_clean" "${fake_mpirun[@]}" "$bin/nxt_ddp" "${args[@]}"
[[ $code -eq 0 ]] || fail "the clean preflight on 2 nodes exited $code"
check_nodes_launched 2
exits_with "$work/out_clean" 0 2
rows=$(table_rows "$work/out_clean")
[[ $(wc -l <<<"$rows") -eq 2 ]] || fail "expected 2 table rows, got: $rows"
grep -qE "^0 +$(node_name 1) +0 .* -> $(node_name 2) +[0-9.]+$" <<<"$rows" ||
  fail "no row for node 0 ($(node_name 1)) with its link to $(node_name 2): $rows"
grep -qE "^1 +$(node_name 2) +1 .* -> $(node_name 1) +[0-9.]+$" <<<"$rows" ||
  fail "no row for node 1 ($(node_name 2)) with its link to $(node_name 1): $rows"
grep -q "every node and link is within 80% of the median (exit status 0)" "$work/out_clean" ||
  fail "no 'within 80%' verdict"
! grep -q "^$below: " "$work/out_clean" || fail "the clean run named a figure below the median"
check_json "$work/runs/preflight/preflight.json" "
assert j['exit_status'] == 0, j['exit_status']
assert [n['host'] for n in j['nodes']] == ['$(node_name 1)', '$(node_name 2)'], j['nodes']
assert [n['link_to_next']['to'] for n in j['nodes']] == ['$(node_name 2)', '$(node_name 1)']
assert all(n['link_to_next']['mb_per_s'] > 0 and n['compute_images_per_s_min'] > 0 and
           n['read_mb_per_s_min'] > 0 and n['intra_node_busbw_gbs'] is None for n in j['nodes'])
rows = j['all_reduce_sweep']['rows']
assert [r['bytes'] for r in rows] == [1024 * 4**k for k in range(10)], [r['bytes'] for r in rows]
assert all(abs(r['busbw_gbs'] - r['algbw_gbs']) <= 1e-9 * r['algbw_gbs'] for r in rows), rows
assert j['below_median'] == []
"
echo "ok (a): 2 clean nodes, exit 0, one row each, links both ways"

# (b) rank 1 (fakenode3) slowed, 3 nodes, launched as without Slurm: mpirun --hostfile
fake_launch 3 1 hostfile
run_bounded 120 "$work/out_slow" "${fake_mpirun[@]}" -x NXT_SLOW_PREFLIGHT_RANK=1 \
  "$bin/nxt_ddp" "${args[@]}"
[[ $code -eq 3 ]] || fail "the preflight with a slowed fakenode3 exited $code, not 3"
check_nodes_launched 3
exits_with "$work/out_slow" 3 3
grep -q "test hook NXT_SLOW_PREFLIGHT_RANK=1 is set" "$work/out_slow" || fail "no hook warning"
[[ $(table_rows "$work/out_slow" | wc -l) -eq 3 ]] || fail "expected 3 table rows"
slow=$(node_name 2)
for figure in compute read; do
  grep -qE "$below: $slow \(node 1\) $figure: [0-9.]+ " "$work/out_slow" ||
    fail "$slow (node 1) was not named below the median for $figure"
done
grep -qE "$below: link $slow -> $(node_name 3) \(node 1 -> 2\): " "$work/out_slow" ||
  fail "the link $slow -> $(node_name 3) was not named below the median"
named=$(grep "^$below: " "$work/out_slow")
[[ $(wc -l <<<"$named") -eq 3 ]] || fail "expected exactly 3 figures named, got: $named"
for clean in "$(node_name 1)" "$(node_name 3)"; do
  ! grep -qE "$below: (link )?$clean " <<<"$named" || fail "a clean node, $clean, was named: $named"
done
grep -q "preflight: 3 figure(s) $below (exit status 3)" "$work/out_slow" || fail "no verdict line"
check_json "$work/runs/preflight/preflight.json" "
assert j['exit_status'] == 3
found = sorted((b['figure'], b['host']) for b in j['below_median'])
assert found == [('compute', '$slow'), ('link', '$slow'), ('read', '$slow')], found
assert all(b['value'] < 0.8 * b['median'] for b in j['below_median']), j['below_median']
rows = j['all_reduce_sweep']['rows']
assert all(abs(r['busbw_gbs'] - r['algbw_gbs'] * 4 / 3) <= 1e-9 * r['busbw_gbs'] for r in rows)
"
# The report, as rank 0 printed it:
sed -n '/^preflight: [0-9]* node(s), [0-9]* rank(s), device/,/(exit status [0-9])$/p' "$work/out_slow"
echo "ok (b): the slowed node, $slow, is named for compute, read and its link; no other node"

# (c) one node, 2 ranks through nxt_mpirun
run_bounded 120 "$work/out_one" "$nxt_mpirun" -np 2 "$bin/nxt_ddp" "${args[@]}"
[[ $code -eq 0 || $code -eq 3 ]] || fail "the one-node preflight exited $code (not 0 or 3)"
exits_with "$work/out_one" "$code" 2
rows=$(table_rows "$work/out_one")
[[ $(wc -l <<<"$rows") -eq 1 ]] || fail "expected 1 table row, got: $rows"
grep -qE "^0 +$(hostname) +0-1 .* [0-9]+\.[0-9]+ +- +-$" <<<"$rows" ||
  fail "the row does not hold ranks 0-1 with an intra-node figure and no link: $rows"
grep -q "inter-node links: none (one node)" "$work/out_one" || fail "no 'inter-node links: none'"
! grep -q "$below: link" "$work/out_one" || fail "a link named on one node"
check_json "$work/runs/preflight/preflight.json" "
assert j['exit_status'] == $code
assert len(j['nodes']) == 1 and j['nodes'][0]['ranks'] == [0, 1], j['nodes']
assert j['nodes'][0]['link_to_next'] is None and j['nodes'][0]['intra_node_busbw_gbs'] > 0
assert j['all_reduce_sweep']['path'] == 'shm', j['all_reduce_sweep']['path']
"
echo "PASS: preflight: clean 2 nodes exit 0; slowed $slow named (exit 3); one node (exit $code)," \
  "no link rows"
