#!/usr/bin/env bash
# launch/nxt_mpirun starts a one-host job on a machine without ssh or rsh (a container, the GPU
# device machine): Open MPI 4.1 refuses even a one-host launch when neither is on PATH ("The
# value of the MCA parameter plm_rsh_agent was set to a path that could not be found"), and
# nxt_mpirun then names an agent that exists. Rehearsed with ssh, rsh and slogin hidden from PATH
# (tests/gpu/path_without.sh). It also checks that the agent is left alone where it matters: a
# host list, a Slurm allocation of several nodes, an agent the user chose, ssh present.
# Fails if nxt_mpirun needs ssh for a one-host run.
set -uo pipefail
source "$(dirname "$0")/../e2e/lib.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
no_ssh_path=$(bash "$repo_root/tests/gpu/path_without.sh" "$work/bin" ssh rsh slogin) ||
  fail "cannot make a PATH without ssh"
root_flag=()
[[ $(id -u) -ne 0 ]] || root_flag=(--allow-run-as-root)

# The problem, shown (not required: an Open MPI that starts without ssh needs no help).
if PATH=$no_ssh_path timeout 60 mpirun "${root_flag[@]}" -np 1 true >"$work/plain.txt" 2>&1; then
  echo "note: this mpirun starts one-host jobs without ssh by itself"
else
  echo "plain mpirun without ssh fails, as expected:"
  grep -m1 -A2 'plm_rsh_agent' "$work/plain.txt" || tail -5 "$work/plain.txt"
fi

# The fix: two ranks on this host, each printing its rank.
PATH=$no_ssh_path CUDA_VISIBLE_DEVICES='' timeout 60 "$nxt_mpirun" -np 2 \
  bash -c 'echo "rank $OMPI_COMM_WORLD_RANK of $OMPI_COMM_WORLD_SIZE"' >"$work/ranks.txt" 2>&1
code=$?
cat "$work/ranks.txt"
[[ $code -eq 0 ]] || fail "nxt_mpirun without ssh exited $code"
for rank in 0 1; do
  grep -qx "rank $rank of 2" "$work/ranks.txt" || fail "rank $rank did not run without ssh"
done

# agent_of [ENV...]: the rsh agent nxt_mpirun's dry-run line sets under ENV ("" when none).
agent_of() {
  env CUDA_VISIBLE_DEVICES= "$@" "$nxt_mpirun" -np 1 --dry-run true 2>&1 |
    sed -n 's/^+ OMPI_MCA_plm_rsh_agent=\([^ ]*\) mpirun .*/\1/p'
}
expect_agent() {
  local want=$1 got
  shift
  got=$(agent_of "$@")
  [[ "$got" == "$want" ]] || fail "expected rsh agent '$want', got '$got' under: $*"
}
expect_agent "$(PATH=$no_ssh_path type -P false)" PATH="$no_ssh_path"
expect_agent "" PATH="$no_ssh_path" NXT_MPIRUN_ARGS="--hostfile $work/hosts"
expect_agent "" PATH="$no_ssh_path" NXT_MPIRUN_ARGS="-H a,b"
expect_agent "" PATH="$no_ssh_path" OMPI_MCA_orte_default_hostfile="$work/hosts"
expect_agent "" PATH="$no_ssh_path" SLURM_JOB_ID=1 SLURM_JOB_NUM_NODES=2
expect_agent "" PATH="$no_ssh_path" OMPI_MCA_plm_rsh_agent=/opt/my-agent
if type -P ssh >/dev/null || type -P rsh >/dev/null; then
  expect_agent ""  # ssh or rsh on the real PATH: Open MPI's own choice
fi
echo "PASS: nxt_mpirun starts a one-host job without ssh, and leaves the agent alone otherwise"
