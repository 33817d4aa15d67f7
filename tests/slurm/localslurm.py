"""A real one-node Slurm for tests: munged, slurmctld and slurmd from Debian's packages (munge,
slurm-wlm), started in the foreground without systemd, everything they write in one temporary
folder, torn down even when a test fails or times out.

    with LocalSlurm(workdir, pidfile) as slurm:
        env = slurm.env()                 # SLURM_CONF for sbatch/srun/squeue
        subprocess.run(["sbatch", ...], env=env)
        slurm.wait_jobs(["12", "13"])     # until none is pending or running

Layout (../shared/DESIGN.md section 7): munged runs as user munge with its own key and socket,
its pid recorded; slurmctld -D and slurmd -D -N localhost read a slurm.conf naming
NodeName=localhost NodeAddr=127.0.0.1 CPUs=2, select/cons_tres, proctrack/linuxproc, task/none,
MpiDefault=pmix, MailProg=/bin/true, on free ports. Needs root (slurmd starts job steps as the
submitting user, munged must run as user munge).

The pids of the three daemons are written to `pidfile` (outside the work folder, which tests wipe)
as they start; a later start with the same pidfile first ends any daemon a killed run left (after
checking the pid is still that daemon, started on that folder), so a ctest timeout cannot leave
daemons behind for the next run.
"""
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time

SLURM_CONF = """\
ClusterName=ad3dtest
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={dir}/munge/munge.socket
StateSaveLocation={dir}/state
SlurmdSpoolDir={dir}/spool
SlurmctldPidFile={dir}/run/slurmctld.pid
SlurmdPidFile={dir}/run/slurmd.pid
SlurmctldLogFile={dir}/log/slurmctld.log
SlurmdLogFile={dir}/log/slurmd.log
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=pmix
MailProg=/bin/true
ReturnToService=2
SlurmdParameters=config_overrides
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/builtin
SchedulerParameters=sched_interval=1
MinJobAge=600
InactiveLimit=0
KillWait=5
NodeName=localhost NodeAddr=127.0.0.1 CPUs=2 State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
"""

DAEMONS = ("munged", "slurmctld", "slurmd")


class SlurmError(Exception):
    pass


def missing_programs():
    """The programs a local Slurm needs that are not installed."""
    progs = ["munged", "slurmctld", "slurmd", "sbatch", "srun", "squeue", "scontrol", "sinfo", "setpriv"]
    return [p for p in progs if not shutil.which(p) and not os.path.exists("/usr/sbin/" + p)]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _program_of(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return None


def _cmdline_of(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


class LocalSlurm:
    def __init__(self, workdir, pidfile, start_timeout=30):
        self.dir = os.path.join(os.path.abspath(workdir), "slurm")
        self.conf = os.path.join(self.dir, "slurm.conf")
        self.pidfile = os.path.abspath(pidfile)
        self.start_timeout = start_timeout
        self.procs = {}

    # ---- start ----

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def env(self):
        e = dict(os.environ)
        e["SLURM_CONF"] = self.conf
        return e

    def _record(self, name, pid):
        with open(self.pidfile, "a") as f:
            f.write(f"{name} {pid} {self.dir}\n")

    def _kill_leftovers(self):
        """End daemons a killed earlier run in this folder left (same program, same folder)."""
        if not os.path.exists(self.pidfile):
            return
        for line in open(self.pidfile):
            parts = line.split()
            if len(parts) != 3 or parts[0] not in DAEMONS:
                continue
            pid = int(parts[1])
            if _program_of(pid) == parts[0] and parts[2] in _cmdline_of(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        os.remove(self.pidfile)

    def start(self):
        self._kill_leftovers()
        shutil.rmtree(self.dir, ignore_errors=True)
        for d in ("state", "spool", "log", "run", "munge"):
            os.makedirs(os.path.join(self.dir, d))
        os.chmod(self.dir, 0o755)
        munge = pwd.getpwnam("munge")
        mdir = os.path.join(self.dir, "munge")
        key = os.path.join(mdir, "munge.key")
        with open(key, "wb") as f:
            f.write(os.urandom(1024))
        os.chmod(key, 0o600)
        os.chmod(mdir, 0o755)  # clients need to reach the socket
        for p in (mdir, key):
            os.chown(p, munge.pw_uid, munge.pw_gid)
        with open(self.conf, "w") as f:
            f.write(SLURM_CONF.format(host=socket.gethostname().split(".")[0], dir=self.dir,
                                      ctld_port=free_port(), slurmd_port=free_port()))
        self._spawn("munged", ["setpriv", f"--reuid={munge.pw_uid}", f"--regid={munge.pw_gid}", "--clear-groups",
                               "munged", "--foreground", f"--socket={mdir}/munge.socket", f"--key-file={key}",
                               f"--pid-file={mdir}/munged.pid", f"--log-file={mdir}/munged.log",
                               f"--seed-file={mdir}/munged.seed"])
        self._wait_for(lambda: os.path.exists(f"{mdir}/munge.socket"), "munged's socket", "munged")
        self._spawn("slurmctld", ["slurmctld", "-D", "-f", self.conf])
        self._spawn("slurmd", ["slurmd", "-D", "-N", "localhost", "-f", self.conf])
        self._wait_for(self._node_idle, "the node to become idle", None)

    def _spawn(self, name, argv):
        log = open(os.path.join(self.dir, "log", name + ".out"), "w")
        # own session: a terminal's Ctrl-C reaches the test, which then stops the daemons in order
        p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=self.env(), start_new_session=True)
        log.close()
        self.procs[name] = p
        self._record(name, p.pid)  # setpriv execs munged: same pid

    def _node_idle(self):
        r = subprocess.run(["sinfo", "-h", "-o", "%T"], env=self.env(), capture_output=True, text=True)
        return r.returncode == 0 and r.stdout.strip() == "idle"

    def _wait_for(self, cond, what, proc):
        t0 = time.time()
        while time.time() - t0 < self.start_timeout:
            for name, p in self.procs.items():
                if p.poll() is not None:
                    raise SlurmError(f"{name} exited with {p.returncode} while waiting for {what}:\n"
                                     + self.logs())
            if cond():
                return
            time.sleep(0.1)
        raise SlurmError(f"timed out after {self.start_timeout}s waiting for {what}:\n" + self.logs())

    def logs(self, tail=30):
        out = []
        for name in sorted(os.listdir(os.path.join(self.dir, "log"))):
            lines = open(os.path.join(self.dir, "log", name), errors="replace").read().splitlines()
            out.append(f"--- {name} (last {tail} lines)\n" + "\n".join(lines[-tail:]))
        return "\n".join(out)

    # ---- jobs ----

    def wait_jobs(self, ids, timeout):
        """Wait until none of the jobs is pending or running; returns {id: [states]} (an array job
        has one state per element)."""
        t0 = time.time()
        while True:
            r = subprocess.run(["squeue", "-h", "-j", ",".join(ids), "-o", "%i %T"], env=self.env(),
                               capture_output=True, text=True)
            if r.returncode == 0 and not r.stdout.strip():
                break
            if time.time() - t0 > timeout:
                raise SlurmError(f"jobs {ids} still queued after {timeout}s:\n{r.stdout}\n" + self.logs())
            time.sleep(0.3)
        states = {}
        for i in ids:
            r = subprocess.run(["scontrol", "show", "job", i], env=self.env(), capture_output=True, text=True)
            states[i] = [w.split("=", 1)[1] for w in r.stdout.split() if w.startswith("JobState=")]
        return states

    # ---- stop ----

    def stop(self):
        """Cancel every job, then stop slurmd, slurmctld and munged (SIGTERM, then SIGKILL)."""
        if "slurmctld" in self.procs and self.procs["slurmctld"].poll() is None:
            subprocess.run(["scancel", "--full", "--quiet", "--user", str(os.getuid())], env=self.env(),
                           capture_output=True, timeout=20)
            t0 = time.time()
            while time.time() - t0 < 10:
                r = subprocess.run(["squeue", "-h"], env=self.env(), capture_output=True, text=True)
                if r.returncode != 0 or not r.stdout.strip():
                    break
                time.sleep(0.2)
        for name in ("slurmd", "slurmctld", "munged"):
            p = self.procs.get(name)
            if p is None or p.poll() is not None:
                continue
            p.terminate()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.procs = {}
        if os.path.exists(self.pidfile):
            os.remove(self.pidfile)
