#!/usr/bin/env bash
# Submit an ad3d job to Slurm as a chain of jobs, each starting when the one before has ended:
#
#   pretrain -> run (one MPI job, or a job array of slices) -> merge (array only) -> report
#
# Stages that are not configured are skipped: pretrain runs only with --pretrain SCRIPT, merge
# only in array mode, report unless --no-report. A stage waits for the previous one with
# afterok (pretrain -> run, merge -> report: no point going on without it) or afterany (run ->
# merge/report: failed tasks are recorded, and the others are worth merging and reporting).
# Dependent jobs whose dependency can no longer be met are cancelled, not left pending.
#
#   slurm/submit.sh [options] JOB.cfg [-- ad3d run options]
#
# Prints one line per stage ("submit: run: job 1234 ...") and then "jobs: ID ID ...".
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")

usage() {
  cat <<EOF
usage: slurm/submit.sh [options] JOB.cfg [-- ad3d run options]

  --output FILE       the results file (default: JOB.h5 in the current folder, JOB = the job file's name)
  --mode mpi|array    one MPI job over all ranks (default), or a job array of slices merged at the end
  --ranks N           MPI ranks of the job (mpi, default 4) or of each array element (array, default 1)
  --slices N          array elements (array mode, default 4)
  --threads T         OpenBLAS threads per rank (= --cpus-per-task; default 1)
  --pretrain SCRIPT   run this sbatch script first (it gets JOB.cfg and the ad3d run options)
  --no-report         no report stage
  --sbatch "ARGS"     extra sbatch arguments for every stage, e.g. "--partition=cpu --time=12:00:00"
  --ad3d PATH         the ad3d program (default: \$AD3D, ad3d on PATH, or $repo/build/src/cli/ad3d)
  --dry-run           print the sbatch commands instead of submitting
  --wait              wait until every stage has ended; exit 0 if all completed, 1 otherwise
EOF
}

output="" mode=mpi ranks="" slices=4 threads=1 pretrain="" report=1 extra=() dry=0 wait=0 job=""
ad3d=${AD3D:-$(command -v ad3d || echo "$repo/build/src/cli/ad3d")}
run_args=()
while (($#)); do
  case $1 in
    --output) output=$2; shift 2 ;;
    --mode) mode=$2; shift 2 ;;
    --ranks) ranks=$2; shift 2 ;;
    --slices) slices=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --pretrain) pretrain=$2; shift 2 ;;
    --no-report) report=0; shift ;;
    --sbatch) read -r -a more <<< "$2"; extra+=("${more[@]}"); shift 2 ;;
    --ad3d) ad3d=$2; shift 2 ;;
    --dry-run) dry=1; shift ;;
    --wait) wait=1; shift ;;
    -h|--help) usage; exit 0 ;;
    --) shift; run_args=("$@"); break ;;
    -*) echo "submit.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
    *) [[ -z $job ]] || { echo "submit.sh: more than one job file ($job, $1)" >&2; exit 2; }; job=$1; shift ;;
  esac
done
[[ -n $job ]] || { usage >&2; exit 2; }
[[ -f $job ]] || { echo "submit.sh: $job: no such job file" >&2; exit 2; }
[[ $mode == mpi || $mode == array ]] || { echo "submit.sh: --mode $mode: expected mpi or array" >&2; exit 2; }
for n in "$slices" "$threads" ${ranks:+"$ranks"}; do
  [[ $n =~ ^[1-9][0-9]*$ ]] || { echo "submit.sh: $n: expected a positive integer" >&2; exit 2; }
done
[[ -n $ranks ]] || { [[ $mode == mpi ]] && ranks=4 || ranks=1; }
[[ -x $ad3d ]] || ad3d=$(command -v "$ad3d" || true)
[[ -n $ad3d && -x $ad3d ]] || { echo "submit.sh: the ad3d program was not found (build it, or --ad3d PATH)" >&2; exit 2; }
if [[ -n $pretrain && ! -f $pretrain ]]; then
  echo "submit.sh: --pretrain $pretrain: no such sbatch script" >&2
  exit 2
fi

# Absolute paths: the jobs run in the submit folder, but scripts and tools may change folder.
job=$(realpath "$job")
ad3d=$(realpath "$ad3d")
[[ -n $output ]] || output="$(basename "${job%.cfg}").h5"
output=$(realpath -m "$output")
logs=$(dirname "$output")
((dry)) || mkdir -p "$logs"
export AD3D=$ad3d AD3D_REPO=$repo

slice_files=()
for ((i = 0; i < slices; i++)); do
  slice_files+=("${output%.h5}.slice-$i-of-$slices.h5")
done

# The stages, in order. stage_NAME fills `cmd` (the sbatch arguments after the common ones) and
# `dep` (afterok or afterany: how it waits for the previous submitted stage), or returns 1 to be
# skipped.
stage_pretrain() {
  [[ -n $pretrain ]] || return 1
  dep=afterok
  cmd=(--job-name=ad3d-pretrain --output="$logs/ad3d-pretrain-%j.out" "$(realpath "$pretrain")" "$job"
       "${run_args[@]}")
}
stage_run() {
  dep=afterok
  if [[ $mode == mpi ]]; then
    cmd=(--job-name=ad3d-run --ntasks="$ranks" --cpus-per-task="$threads" --output="$logs/ad3d-run-%j.out"
         "$here/run.sbatch" "$job" --output "$output" "${run_args[@]}")
  else
    cmd=(--job-name=ad3d-slice --array="0-$((slices - 1))" --ntasks="$ranks" --cpus-per-task="$threads"
         --output="$logs/ad3d-slice-%A_%a.out" "$here/array.sbatch" "$output" "$job" "${run_args[@]}")
  fi
}
stage_merge() {
  [[ $mode == array ]] || return 1
  dep=afterany
  cmd=(--job-name=ad3d-merge --ntasks=1 --output="$logs/ad3d-merge-%j.out" "$here/merge.sbatch" "$output"
       "${slice_files[@]}")
}
stage_report() {
  ((report)) || return 1
  [[ $mode == array ]] && dep=afterok || dep=afterany
  cmd=(--job-name=ad3d-report --ntasks=1 --output="$logs/ad3d-report-%j.out" "$here/report.sbatch" "$output")
}
STAGES=(pretrain run merge report)

ids=()
previous=""
for stage in "${STAGES[@]}"; do
  cmd=() dep=""
  if ! "stage_$stage"; then
    echo "submit: $stage: skipped"
    continue
  fi
  args=(--parsable "${extra[@]}")
  [[ -z $previous ]] || args+=(--dependency="$dep:$previous" --kill-on-invalid-dep=yes)
  if ((dry)); then
    id="DRY$((${#ids[@]} + 1))"
    printf 'submit: %s: sbatch' "$stage"
    printf ' %q' "${args[@]}" "${cmd[@]}"
    printf '\n'
  else
    id=$(sbatch "${args[@]}" "${cmd[@]}")
    id=${id%%;*}  # "id;cluster" on multi-cluster sites
    echo "submit: $stage: job $id${previous:+ ($dep:$previous)}"
  fi
  ids+=("$id")
  previous=$id
done
echo "jobs: ${ids[*]}"

((wait && !dry)) || exit 0
# Wait until none of the jobs is pending or running, then check each ended COMPLETED (every
# element of an array). scontrol keeps ended jobs for MinJobAge seconds; sacct, where accounting
# is on, for longer.
while [[ -n $(squeue -h -j "$(IFS=,; echo "${ids[*]}")" 2>/dev/null) ]]; do
  sleep 2
done
ok=1
for id in "${ids[@]}"; do
  states=$(scontrol show job "$id" 2>/dev/null | grep -o 'JobState=[A-Z_]*' | cut -d= -f2 | sort -u | xargs)
  [[ -n $states ]] || states=$(sacct -n -X -j "$id" -o State 2>/dev/null | sort -u | xargs)
  echo "submit: job $id: ${states:-unknown}"
  [[ $states == COMPLETED ]] || ok=0
done
((ok))
