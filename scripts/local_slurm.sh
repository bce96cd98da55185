#!/usr/bin/env bash
# A throw-away one-node SLURM cluster on this machine, for trying profiles/slurm for real (tests/test_slurm.py, CI).
#
#   sudo bash scripts/local_slurm.sh start    # install SLURM and munge if missing, write the config, start the
#                                             # daemons, wait until the node is idle (about a minute the first time)
#   sudo bash scripts/local_slurm.sh status   # one line; exit status 0 when the node takes jobs
#   sudo bash scripts/local_slurm.sh stop     # cancel its jobs, stop the daemons it started (by their PIDs)
#
# One node (this machine, its real CPU count, 95% of its memory) in one partition, `local`; munged, slurmctld and
# slurmd run as root, without accounting (sacct has nothing to read: run Snakemake with --slurm-status-command squeue
# --slurm-no-account). Starting twice is harmless. Where it cannot run (not root, SLURM missing and no apt-get, a
# slurm.conf of another cluster) it says why in one line and exits with status 2; any other failure exits with 1.
# The config goes to /etc/slurm/slurm.conf (where sbatch and squeue look), marked as this script's, and is never
# written over an unmarked one; state, logs and PIDs go to $LOCAL_SLURM_DIR (default /var/tmp/local-slurm).
set -euo pipefail

STATE=${LOCAL_SLURM_DIR:-/var/tmp/local-slurm}
CONF=/etc/slurm/slurm.conf
MARK="# written by scripts/local_slurm.sh (a throw-away local cluster)"
PARTITION=local
NODE=$(hostname -s)
PACKAGES=(slurmctld slurmd slurm-client munge)

say() { echo "local_slurm: $*"; }
cannot() { say "$*"; exit 2; }
fail() { say "$*"; exit 1; }

# The PID recorded for a daemon, if that process is still this daemon (a reused PID is not).
live_pid() {
    local file="$STATE/$1.pid" pid
    [[ -f $file ]] || return 1
    pid=$(<"$file")
    [[ -n $pid && -r /proc/$pid/cmdline ]] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$1" || return 1
    echo "$pid"
}

# Start a daemon in the foreground of its own session and record its PID.
launch() {
    local name=$1
    shift
    setsid "$@" </dev/null >>"$STATE/$name.out" 2>&1 &
    echo $! >"$STATE/$name.pid"
    sleep 1
    live_pid "$name" >/dev/null || fail "$name did not start; see $STATE/$name.out and $STATE/$name.log"
}

node_state() { sinfo --noheader --nodes "$NODE" --partition "$PARTITION" --format %T 2>/dev/null | head -n1; }

check_can_run() {
    [[ $(uname -s) == Linux ]] || cannot "runs on Linux only; not starting a local SLURM"
    [[ $(id -u) == 0 ]] || cannot "needs root (it installs packages, writes $CONF and starts daemons); not starting"
    if [[ -f $CONF ]] && ! grep -qxF "$MARK" "$CONF"; then
        cannot "$CONF belongs to another cluster; not starting a local one over it"
    fi
}

install_packages() {
    local missing=()
    command -v slurmctld >/dev/null || missing+=(slurmctld)
    command -v slurmd >/dev/null || missing+=(slurmd)
    command -v sbatch >/dev/null || missing+=(slurm-client)
    command -v munged >/dev/null || missing+=(munge)
    ((${#missing[@]})) || return 0
    command -v apt-get >/dev/null || cannot "${missing[*]} missing and no apt-get to install them; not starting"
    say "installing ${PACKAGES[*]} with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >"$STATE/apt.out" 2>&1 || fail "apt-get update failed; see $STATE/apt.out"
    apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >>"$STATE/apt.out" 2>&1 \
        || fail "apt-get install failed; see $STATE/apt.out"
}

write_config() {
    local hardware cpus memory
    # slurmd -C prints this machine's node line: CPUs, sockets, cores, threads, RealMemory.
    hardware=$(slurmd -C | head -n1)
    cpus=$(sed -n 's/.* \(CPUs=[0-9]* .*ThreadsPerCore=[0-9]*\).*/\1/p' <<<"$hardware")
    memory=$(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<<"$hardware")
    [[ -n $cpus && -n $memory ]] || fail "could not read this machine's CPUs and memory from: $hardware"
    memory=$((memory * 95 / 100))  # a little less than the machine has, or slurmd drains the node
    mkdir -p "$(dirname "$CONF")" "$STATE/ctld" "$STATE/slurmd"
    cat >"$CONF.new" <<EOF
$MARK
ClusterName=local
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/slurmd
SlurmctldPidFile=$STATE/slurmctld.daemon.pid
SlurmdPidFile=$STATE/slurmd.daemon.pid
SlurmctldLogFile=$STATE/slurmctld.log
SlurmdLogFile=$STATE/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
MailProg=/bin/true
ReturnToService=2
# Finished jobs stay visible to squeue for 5 minutes: Snakemake's executor reads their end state from there.
MinJobAge=300
KillWait=5
DefMemPerCPU=1000
NodeName=$NODE NodeAddr=127.0.0.1 $cpus RealMemory=$memory State=UNKNOWN
PartitionName=$PARTITION Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
    mv "$CONF.new" "$CONF"
}

start_munge() {
    if munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; then
        return 0  # a munged answers already (this script's or the system's)
    fi
    if [[ ! -s /etc/munge/munge.key ]]; then
        mkdir -p /etc/munge
        dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none
    fi
    chown munge:munge /etc/munge/munge.key
    chmod 0400 /etc/munge/munge.key
    install -d -o munge -g munge -m 0755 /run/munge
    install -d -o munge -g munge -m 0700 /var/lib/munge /var/log/munge
    launch munged setpriv --reuid=munge --regid=munge --init-groups /usr/sbin/munged --foreground
    for _ in $(seq 20); do
        munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1 && return 0
        sleep 0.5
    done
    fail "munged does not answer; see $STATE/munged.out"
}

wait_until_idle() {
    local state=""
    for _ in $(seq 120); do
        state=$(node_state)
        case $state in
            idle | mixed | allocated | completing) return 0 ;;
            down* | drain* | drained*) scontrol update NodeName="$NODE" State=RESUME >/dev/null 2>&1 || true ;;
        esac
        sleep 1
    done
    fail "node $NODE is not idle after 2 minutes (state '${state:-none}'); see $STATE/slurmctld.log and $STATE/slurmd.log"
}

describe() {
    say "up: $(sinfo --version), node $NODE ($(node_state)), partition $PARTITION, $(sinfo --noheader --nodes "$NODE" \
--format '%c CPUs, %m MB')"
}

start() {
    check_can_run
    mkdir -p "$STATE"
    install_packages
    if live_pid slurmctld >/dev/null && live_pid slurmd >/dev/null; then
        wait_until_idle
        describe
        return 0
    fi
    stop_daemons
    write_config
    start_munge
    launch slurmctld slurmctld -D -c
    for _ in $(seq 30); do scontrol ping >/dev/null 2>&1 && break; sleep 1; done
    scontrol ping >/dev/null 2>&1 || fail "slurmctld does not answer; see $STATE/slurmctld.log"
    launch slurmd slurmd -D
    wait_until_idle
    describe
}

stop_daemons() {
    local name pid
    for name in slurmd slurmctld munged; do
        if pid=$(live_pid "$name"); then
            kill -TERM "$pid" 2>/dev/null || true
            for _ in $(seq 20); do [[ -d /proc/$pid ]] || break; sleep 0.5; done
            [[ -d /proc/$pid ]] && kill -KILL "$pid" 2>/dev/null || true
        fi
        rm -f "$STATE/$name.pid"
    done
}

stop() {
    if ! live_pid slurmctld >/dev/null && ! live_pid slurmd >/dev/null && ! live_pid munged >/dev/null; then
        say "nothing to stop (no daemon started by this script runs)"
        return 0
    fi
    [[ $(id -u) == 0 ]] || cannot "needs root to stop the daemons it started as root"
    if live_pid slurmctld >/dev/null; then
        local jobs
        jobs=$(squeue --noheader --format %A 2>/dev/null || true)
        [[ -z $jobs ]] || scancel $jobs 2>/dev/null || true
        for _ in $(seq 20); do [[ -z $(squeue --noheader --states=running,completing 2>/dev/null) ]] && break; sleep 0.5; done
    fi
    stop_daemons
    say "stopped"
}

status() {
    if live_pid slurmctld >/dev/null && live_pid slurmd >/dev/null && [[ -n $(node_state) ]]; then
        describe
    elif scontrol ping >/dev/null 2>&1; then
        say "a SLURM controller answers, not started by this script: $(sinfo --version)"
    else
        say "no local SLURM running"
        return 1
    fi
}

case ${1:-} in
    start) start ;;
    stop) stop ;;
    status) status ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 64 ;;
esac
