#!/usr/bin/env bash
# data.shard_by node with one copy per node (data.cache_in_memory) on 2 fake nodes: Note [Node
# shares] in src/data/sampler.h and Note [One copy per node] in src/data/node_copy.h.
#  - straight: 2 nodes x 2 ranks placed round robin (ranks 0, 2 on the first node, 1, 3 on the
#    second: a rank's slot is not its rank), 3 epochs, shares dealt anew every 2 epochs. Each
#    node's first rank logs its copy, which holds only the node's share (36 of 72 training
#    images, and the 12 of the 24 val images its ranks evaluate, eval.mode sharded), once for
#    deal 0 and once for deal 1; the copies are gone from /dev/shm after the run. From the
#    loader's trace (NXT_TRACE_SAMPLES): in every epoch each training image once and positions
#    0..71 once; the ranks of a node read one share, disjoint from the other node's; epochs 1
#    and 2 read the same shares, epoch 3 other ones.
#  - the same run stopped mid-epoch 2 (NXT_STOP_AT_STEP) and resumed on the same layout ends
#    with the straight run's parameters (bitwise) and metrics.csv;
#  - resumed on another layout (3 nodes x 1 rank; another node count, so other shares): the log
#    says the layout changed, epoch 2 (the stopped run's part and the resumed run's rest
#    together) sees each image and each position once, and epoch 3 is dealt for 3 x 1: each
#    image once, each node its own 24;
#  - shard_by rank with data.stage_dir on private node-local folders: each node writes its own
#    copy of all 72 images there, and it is gone after the run;
#  - nodes with different rank counts (2 + 1) are refused at start, naming each node's count.
# 72 training images, batch 3: 18 per rank on 2 x 2 and 24 on 3 x 1, no padding, so "once"
# holds to the sample.
set -uo pipefail
shopt -s extglob
source "$(dirname "$0")/lib.sh"
require_fake_nodes
make_tiny_dataset "$work" 32
args=(--set run.threads_per_rank=1 --set data.batch_size=3 --set train.epochs=3
      --set data.shard_by=node --set data.reshard_every_epochs=2 --set data.cache_in_memory=true
      --set eval.mode=sharded)
straight=$(tiny_config "$work" straight)
stopped=$(tiny_config "$work" stopped)

# check_epochs TRACE_DIR... : every epoch of the union of these traces has each training image
# and position 0..71 once.
check_epochs() {
  "$python" - "$@" <<'PY'
import collections, glob, sys
per_epoch = collections.defaultdict(collections.Counter)
positions = collections.defaultdict(collections.Counter)
for folder in sys.argv[1:]:
    for path in glob.glob(folder + '/samples.rank*.txt'):
        for line in open(path):
            epoch, position, index = map(int, line.split())
            per_epoch[epoch][index] += 1
            positions[epoch][position] += 1
assert sorted(per_epoch) == [0, 1, 2], 'epochs traced: %s' % sorted(per_epoch)
for epoch in sorted(per_epoch):
    seen = per_epoch[epoch]
    assert sorted(seen) == list(range(72)), 'epoch %d: images missing: %s' % (
        epoch + 1, sorted(set(range(72)) - set(seen))[:10])
    twice = [i for i, c in seen.items() if c != 1]
    assert not twice, 'epoch %d: images seen more than once: %s' % (epoch + 1, twice[:10])
    assert sorted(positions[epoch]) == list(range(72)) and set(positions[epoch].values()) == {1}, \
        'epoch %d: positions are not 0..71 once each' % (epoch + 1)
print('each epoch: 72 images, each once, positions 0..71 once')
PY
}

# node_sets TRACE_DIR NODE_OF_RANK [EPOCH...]: the image sets the nodes read in each epoch
# (0-based; default all traced) must be disjoint, 72 / nodes images each; prints
# 'epoch:node:sorted indices' lines. NODE_OF_RANK: "node of rank 0,node of rank 1,...".
node_sets() {
  "$python" - "$@" <<'PY'
import collections, glob, re, sys
folder, node_of = sys.argv[1], list(map(int, sys.argv[2].split(',')))
only = set(map(int, sys.argv[3:]))
sets = collections.defaultdict(set)
for path in glob.glob(folder + '/samples.rank*.txt'):
    rank = int(re.search(r'rank(\d+)', path).group(1))
    for line in open(path):
        epoch, _, index = map(int, line.split())
        sets[(epoch, node_of[rank])].add(index)
nodes = max(node_of) + 1
for epoch in sorted({e for e, _ in sets if not only or e in only}):
    for node in range(nodes):
        share = sets[(epoch, node)]
        assert len(share) == 72 // nodes, 'epoch %d: node %d read %d images' % (epoch + 1, node, len(share))
        for other in range(node):
            both = share & sets[(epoch, other)]
            assert not both, 'epoch %d: nodes %d and %d both read %s' % (epoch + 1, other, node, sorted(both)[:10])
    for node in range(nodes):
        print('%d:%d:%s' % (epoch, node, ','.join(map(str, sorted(sets[(epoch, node)])))))
PY
}

# node_of_ranks OUT RANKS: "0,1,0,1": each rank's node, numbered in the order of the nodes'
# first ranks (as nxt_ddp numbers them), from the placement lines of a run's output.
node_of_ranks() {
  local r host nodes="" hosts=()
  for (( r = 0; r < $2; r++ )); do
    host=$(placement_field "$1" $r host)
    local k=0
    while [[ $k -lt ${#hosts[@]} && ${hosts[$k]} != "$host" ]]; do k=$(( k + 1 )); done
    [[ $k -lt ${#hosts[@]} ]] || hosts+=("$host")
    nodes+="${nodes:+,}$k"
  done
  echo "$nodes"
}

# launch_round_robin: fake_launch 2 2 with the ranks placed round robin over the nodes.
launch_round_robin() {
  fake_launch 2 2
  fake_mpirun=("${fake_mpirun[@]/#slot/node}")
}

# The straight run.
mkdir -p "$work/trace.straight"
launch_round_robin
NXT_TRACE_SAMPLES="$work/trace.straight" run_bounded 240 "$work/out.straight" \
  "${fake_mpirun[@]}" "$bin/nxt_ddp" --config "$straight" "${args[@]}"
[[ $code -eq 0 ]] || fail "the straight run exited $code"
check_nodes_launched 2
grep -q "train 72, val 24" "$work/out.straight" || fail "expected 72 training and 24 val images"
grep -q "data.shard_by node: 2 node(s) x 2 rank(s)" "$work/out.straight" ||
  fail "no 'data.shard_by node: 2 node(s) x 2 rank(s)' line"
for node in 0 1; do
  host=$(node_name $(( node + 1 )))
  for deal in 0 1; do
    line=$(grep -E "node copy of node $node \($host\): train split, node share of deal $deal: " \
           "$work/out.straight") || fail "node $node logged no copy of deal $deal"
    # ("reused": a copy of the same images that a killed earlier run of this test left behind)
    [[ $line == *": 36 images, 0.1 MiB in /dev/shm/nxt-copy-"*@(", written in "|", left by an earlier job on this node: reused")* ]] ||
      fail "node $node, deal $deal: the copy is not the node's 36 images (110,592 bytes): $line"
    echo "$line"
  done
  [[ $(grep -c "node copy of node $node ($host): val split, this node's share: 12 images" \
       "$work/out.straight") -eq 1 ]] || fail "node $node: no single copy of its 12 val images"
done
[[ $(grep -c "node copy of node" "$work/out.straight") -eq 6 ]] ||
  fail "expected 6 copy lines (2 nodes x (2 deals + val)), got $(grep -c "node copy of node" "$work/out.straight")"
for copy in $(grep -oE "/dev/shm/nxt-copy-[^ ,]+" "$work/out.straight" | sort -u); do
  [[ ! -e "$copy" ]] || fail "the node copy $copy is left in /dev/shm after the run"
done
check_epochs "$work/trace.straight" || fail "the straight run's epochs are not exact"
layout=$(node_of_ranks "$work/out.straight" 4)
[[ $layout == 0,1,0,1 ]] || fail "expected ranks 0, 2 on one node and 1, 3 on the other, got $layout"
node_sets "$work/trace.straight" "$layout" >"$work/sets.straight" ||
  fail "the nodes of the straight run did not read disjoint shares"
for node in 0 1; do
  e0=$(grep "^0:$node:" "$work/sets.straight" | cut -d: -f3)
  e1=$(grep "^1:$node:" "$work/sets.straight" | cut -d: -f3)
  e2=$(grep "^2:$node:" "$work/sets.straight" | cut -d: -f3)
  [[ "$e0" == "$e1" ]] || fail "node $node read another share in epoch 2 (reshard_every_epochs 2)"
  [[ "$e0" != "$e2" ]] || fail "node $node read the same share in epoch 3 (a new deal)"
done
echo "ok: each node read its own share, the same in epochs 1-2, a new one in epoch 3"

# Stopped in epoch 2: 2 x 2 ranks x batch 3 = 12 samples per step, 6 steps per epoch; step 9
# is epoch 2 after 3 steps (36 samples).
mkdir -p "$work/trace.stopped"
launch_round_robin
NXT_STOP_AT_STEP=9 NXT_TRACE_SAMPLES="$work/trace.stopped" run_bounded 240 "$work/out.stopped" \
  "${fake_mpirun[@]}" "$bin/nxt_ddp" --config "$stopped" "${args[@]}"
[[ $code -ne 0 ]] || fail "the stopped run finished instead of stopping"
grep -q "stopped by SIGUSR2" "$work/out.stopped" || fail "no stop message"
cp -r "$work/runs/stopped" "$work/runs/other_layout"

# Resumed on the same layout: exactly the straight run.
launch_round_robin
run_bounded 240 "$work/out.resumed" "${fake_mpirun[@]}" "$bin/nxt_ddp" --config "$stopped" \
  "${args[@]}" --resume auto
[[ $code -eq 0 ]] || fail "the run resumed on 2 x 2 exited $code"
grep -qE "resumed from .*last.pt: epoch 2, step 3/6 \(sample 36 of 72\)" "$work/out.resumed" ||
  fail "no resume at epoch 2, step 3/6"
! grep -q "node layout changed" "$work/out.resumed" || fail "the same layout was taken for a change"
expect_same_parameters "$work/runs/straight/last.pt" "$work/runs/stopped/last.pt"
cut -d, -f1-6 "$work/runs/straight/metrics.csv" >"$work/a.csv"
cut -d, -f1-6 "$work/runs/stopped/metrics.csv" >"$work/b.csv"
diff "$work/a.csv" "$work/b.csv" || fail "metrics.csv differs between the straight and the resumed run"
echo "ok: resumed on 2 x 2: the straight run's parameters and metrics"

# Resumed on 3 nodes x 1 rank.
mkdir -p "$work/trace.other"
fake_launch 3 1
NXT_TRACE_SAMPLES="$work/trace.other" run_bounded 240 "$work/out.other" \
  "${fake_mpirun[@]}" "$bin/nxt_ddp" --config "$stopped" "${args[@]}" \
  --set run.name=other_layout --resume auto
[[ $code -eq 0 ]] || fail "the run resumed on 3 x 1 exited $code"
check_nodes_launched 3
grep -q "node layout changed: epoch 2 was dealt for shard_by node, 2 node(s) x 2 rank(s), this job is shard_by node, 3 node(s) x 1 rank(s)" \
  "$work/out.other" || fail "the log does not state the layout change"
check_epochs "$work/trace.stopped" "$work/trace.other" ||
  fail "epoch 2 resumed on 3 x 1 is not exact (or epoch 3 on 3 x 1)"
node_sets "$work/trace.other" "$(node_of_ranks "$work/out.other" 3)" 2 | grep -q "^2:2:" ||
  fail "epoch 3 on 3 x 1: the nodes did not read disjoint shares of 24"
grep -q "node copy of node 2 ($(node_name 3)): train split, node share of deal 1: 24 images" \
  "$work/out.other" || fail "3 x 1: no copy of node 2's share of deal 1"
# shard_by rank with data.stage_dir on node-local folders that the other node cannot see
# (fake_ssh mounts a private folder over it): each node's first rank copies the whole train
# split there itself, and removes it at the end.
mkdir -p "$work/stage"
export NXT_FAKE_PRIVATE_DIR="$work/stage" NXT_FAKE_PRIVATE_ROOT="$work/stage_nodes"
fake_launch 2 1
run_bounded 240 "$work/out.staged" "${fake_mpirun[@]}" "$bin/nxt_ddp" --config "$straight" \
  --set run.threads_per_rank=1 --set data.batch_size=3 --set train.epochs=1 \
  --set data.stage_dir="$work/stage" --set run.name=staged
unset NXT_FAKE_PRIVATE_DIR NXT_FAKE_PRIVATE_ROOT
[[ $code -eq 0 ]] || fail "the shard_by rank run with data.stage_dir exited $code"
for node in 0 1; do
  grep -qE "node copy of node $node \($(node_name $(( node + 1 )))\): train split: 72 images, 0.2 MiB in $work/stage/nxt-copy-[^ ]*, written in" \
    "$work/out.staged" || fail "node $node did not write its own copy of all 72 images in its stage folder"
  [[ -d "$work/stage_nodes/$(node_name $(( node + 1 )))" ]] || fail "no private stage folder for node $node"
  [[ -z $(find "$work/stage_nodes/$(node_name $(( node + 1 )))" -mindepth 1) ]] ||
    fail "node $node's stage folder is not empty after the run"
done
echo "ok: shard_by rank with data.stage_dir: each node wrote its own copy of all 72 images, removed after"

# Nodes with different rank counts (2 + 1): refused at start, naming the count of each node.
fake_launch 2 2
uneven=()
for item in "${fake_mpirun[@]}"; do
  case $item in
    4) uneven+=(3) ;;
    127.0.0.2:2,127.0.0.3:2) uneven+=(127.0.0.2:2,127.0.0.3:1) ;;
    *) uneven+=("$item") ;;
  esac
done
run_bounded 120 "$work/out.uneven" "${uneven[@]}" "$bin/nxt_ddp" --config "$straight" "${args[@]}" \
  --set run.name=uneven
expect_clean_failure 100
grep -q "data.shard_by node needs the same number of ranks on every node .*the ranks per node are node 0 (first rank 0): 2, node 1 (first rank 2): 1" \
  "$work/out.uneven" || fail "2 + 1 ranks: no error naming the ranks per node"
echo "ok: 2 + 1 ranks refused, naming the ranks per node"
echo "PASS: shard_by node with one copy per node: exact epochs, own shares, exact resume on 2 x 2 and 3 x 1"
