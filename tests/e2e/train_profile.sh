#!/usr/bin/env bash
# run.profile_steps under mpirun -np 2 (Note [Step profiles] in src/train/step_profiler.h): each
# rank writes profile/rank<R>.pt.trace.json, and reading it back finds, for every profiled step,
# a ProfilerStep#<step> range holding the step's phases (data, forward, backward, all-reduce
# wait, optimizer), aten convolutions with their input shapes inside forward and backward,
# memory events, and the rank in distributedInfo. A run without the key writes no profile/.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
make_tiny_dataset "$work" 16
config=$(tiny_config "$work" profiled)
run_dir="$work/runs/profiled"

run_bounded 300 "$work/out" "$nxt_mpirun" -np 2 "$bin/nxt_ddp" --config "$config" \
  --set run.threads_per_rank=1 --set train.epochs=2 --set "run.profile_steps=[3, 5]" >/dev/null
[[ $code -eq 0 ]] || { cat "$work/out"; fail "the profiled run exited $code"; }
for rank in 0 1; do
  grep -q "profile: rank $rank wrote steps 3-5 to $run_dir/profile/rank$rank.pt.trace.json" \
    "$work/out" || { cat "$work/out"; fail "no line saying rank $rank wrote its trace"; }
done
py "
import json
for rank in (0, 1):
    path = '$run_dir/profile/rank%d.pt.trace.json' % rank
    trace = json.load(open(path))
    info = trace.get('distributedInfo', {})
    assert (info.get('rank'), info.get('world_size')) == (rank, 2), (path, info)
    spans = [e for e in trace['traceEvents'] if e.get('ph') == 'X']
    steps = sorted((e for e in spans if e['name'].startswith('ProfilerStep#')),
                   key=lambda e: e['ts'])
    assert [e['name'] for e in steps] == ['ProfilerStep#%d' % s for s in (3, 4, 5)], \
        (path, [e['name'] for e in steps])
    def inside(outer, name):
        return [e for e in spans if e['name'] == name and e['tid'] == outer['tid']
                and outer['ts'] <= e['ts'] and e['ts'] + e['dur'] <= outer['ts'] + outer['dur']]
    for step in steps:
        for phase in ('data', 'forward', 'backward', 'all-reduce wait', 'optimizer'):
            found = inside(step, phase)
            assert len(found) == 1, (path, step['name'], phase, len(found))
            assert found[0].get('cat') == 'user_annotation', found[0]
        forward = inside(step, 'forward')[0]
        convs = inside(forward, 'aten::convolution')
        assert convs and all(c['args'].get('Input Dims') for c in convs), (path, 'forward convs')
        assert convs[0]['args']['Input Dims'][0][1:] == [3, 32, 32], convs[0]['args']
    backward = [e for e in spans if e['name'].startswith('autograd::engine::evaluate_function: ConvolutionBackward')]
    assert backward, (path, 'no convolution backward recorded')
    memory = [e for e in trace['traceEvents'] if e.get('name') == '[memory]']
    assert memory and all('Bytes' in e['args'] for e in memory), (path, 'no memory events')
    print('rank %d: %d events, %d steps, %d convolutions in the first forward, %d memory events'
          % (rank, len(trace['traceEvents']), len(steps), len(inside(steps[0], 'aten::convolution')), len(memory)))
" || fail "a trace does not hold what the profiled steps did"

# Without the key: no profiler, no folder.
run_bounded 300 "$work/out_plain" "$nxt_mpirun" -np 2 "$bin/nxt_ddp" --config "$config" \
  --set run.threads_per_rank=1 --set train.epochs=1 --set run.name=plain >/dev/null
[[ $code -eq 0 ]] || { cat "$work/out_plain"; fail "the run without profile_steps exited $code"; }
[[ ! -e "$work/runs/plain/profile" ]] || fail "a run without run.profile_steps wrote profile/"
grep -q "profile:" "$work/out_plain" && fail "a run without run.profile_steps printed a profile line"
echo "PASS: every rank's trace holds its profiled steps, their phases, ops, shapes and memory"
