"""Child-process side of the sandbox: runs one untrusted task-family source under limits.

Started by :mod:`acdc_core.adapters.sandbox.client` as ``python -I -S runner.py`` (stdlib only, no site)
with an allow-listed environment, normally as PID 1 of fresh PID, mount and network namespaces
(``isolated`` requests).  It reads one JSON request on stdin, then, while still privileged:

1. (isolated only) pivots into a minimal root built for the call: read-only binds of the
   interpreter, its stdlib and the shared libraries (``root_binds``, from the parent), the call's
   /proc, /dev with null, zero and urandom; the host's tree is detached, so its files and unix
   sockets do not exist for the call.  Where that fails (see ``FEATURES``) it keeps the host's
   tree instead, every mount read-only, and hides ``/var/tmp`` and ``/dev/shm`` under empty
   read-only tmpfs.  Either way a private tmpfs at ``/tmp`` capped at ``disk_mb`` and
   ``max_files`` is the call's scratch folder;
2. joins a new session keyring; imports the stdlib modules in ``PRELOADED`` (as nobody the
   interpreter's stdlib may be unreadable where the host's tree is kept), sets rlimits (CPU,
   address space, processes, file size, no core files);
3. drops root to ``nobody`` (under ``unshare -r``, where nobody is not mapped: every capability),
   (isolated) enters a user namespace of its own so that its user keyring is the call's, enters
   the scratch folder, and installs an audit hook that refuses sockets and process creation.

Then it executes the code and writes one JSON reply on stdout after a nonce marker (whatever the
task code prints goes to stderr), and exits at once: as PID 1 its exit kills every process the
task code left behind, and the mount namespace (with the scratch tmpfs) goes with it.

The hook is a first guard only (``ctypes`` gets past it); the namespaces, the read-only mounts and
the uid are what contain.  Nothing here is trusted by the parent, which validates every reply.

Request (one line): {"nonce", "code", "op": "instances"|"score"|"probe", "max_instances", "draw" (0: the family's
own instances; k > 0: those of its generator re-seeded for draw k, see ``_redraw``), "isolated", "root_binds",
"scratch" (a folder, when not isolated), "limits": {"cpu_s", "memory_mb", "max_processes",
"disk_mb", "max_files"}, "max_judge_calls", "items": [{"instance_id", "task", "submission"}]}.
Reply: {"instances": {id: {"task", "instructions"}}} or {"scores": {id: float}, "errors": {id: str}},
or {"fatal": "message"} when the family could not be loaded at all; op "probe" (no code) replies
{"probe": FEATURES}.

The judge channel: ``score()`` may call ``eval_with_llm_judge(instructions, submission,
criteria) -> bool`` (a global of the task code).  The sandbox has no network, so the call writes
one line ``<nonce>J{"instructions", "submission", "criteria"}`` (each string capped at
``JUDGE_FIELD_CHARS``) and blocks on one line of stdin: ``{"verdict": bool}`` or
``{"error": str}`` (raised as RuntimeError in the task code).
"""

import errno
import json
import os
import resource
import sys
import traceback

NOBODY = 65534
JUDGE_FIELD_CHARS = 8000
FILE_BYTES = 16 * 1024 * 1024
# Imported before privileges drop: the modules task-family code and the programs of code
# benchmarks (acdc_core.adapters.code_tests: its timer needs ``signal``) may use.  ``socket`` is
# here so that a socket attempt meets the audit hook (and the empty network namespace behind it).
PRELOADED = (
    "array bisect cmath collections copy datetime decimal fractions functools hashlib heapq itertools "
    "json math operator random re signal socket statistics string textwrap typing unicodedata"
).split()
# Audit events the hook refuses: the network, and starting or replacing processes.
BLOCKED_EVENTS = ("socket.", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork",
                  "os.forkpty", "subprocess.Popen", "pty.spawn")

# mount(2) flags (linux/mount.h)
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT = 1, 2, 4, 8, 32
MS_BIND, MS_REC, MS_RELATIME = 4096, 16384, 1 << 21  # nosuid, nodev, noexec, noatime, nodiratime: same bits as ST_*
MNT_DETACH = 2
CLONE_NEWUSER = 0x10000000
KEYCTL_JOIN_SESSION_KEYRING, KEYCTL_SETPERM = 1, 5
KEY_SPEC_USER_KEYRING, KEY_POS_ALL = -4, 0x3F000000
# Numbers of the system calls glibc has no wrapper for (asm/unistd.h); elsewhere these steps fall back.
SYSCALLS = {"x86_64": {"pivot_root": 155, "keyctl": 250}, "aarch64": {"pivot_root": 41, "keyctl": 219}}
NEW_ROOT = "/tmp"  # where the call's root is built, in its own mount namespace (the host's /tmp is untouched)
DEVICES = ("null", "zero", "urandom")
# Never bound from the host: the call's root has its own /proc, /dev and scratch /tmp.
OWN_DIRS = ("/proc", "/dev", "/tmp")
# What this call got, for the "probe" op (see client.isolation_features).
FEATURES = {"root": "host (not isolated)", "keyring": "the parent's"}


_LIBC = []


def _libc():
    if not _LIBC:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
        libc.syscall.restype = ctypes.c_long
        _LIBC.append(libc)
    return _LIBC[0]


def _check(rc, what):
    """Raises OSError (with errno) when a libc call returned -1."""
    if rc == -1:
        import ctypes
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(source, target, fstype, flags, data=None):
    enc = (lambda s: None if s is None else s.encode())
    _check(_libc().mount(enc(source), enc(target), enc(fstype), flags, enc(data)), f"mount {target}")


def _syscall(name, *args):
    number = SYSCALLS.get(os.uname().machine, {}).get(name)
    if number is None:
        raise OSError(errno.ENOSYS, f"no {name} system call number for {os.uname().machine}")
    _check(_libc().syscall(number, *args), name)


def _mount_points():
    """Mount points of this mount namespace (``/proc/self/mountinfo`` field 5, unescaped)."""
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4] for line in f]
    unescape = (lambda p: p.encode().decode("unicode_escape").encode("latin-1").decode())
    return list(dict.fromkeys(unescape(p) for p in points))


def _minimal_root(binds):
    """Build the call's root at ``NEW_ROOT`` (a tmpfs) and pivot into it: read-only binds of only
    ``binds`` (the interpreter, its shared libraries and ``ld.so.cache``, sent by the parent) and
    of this interpreter's import path (the stdlib), the call's /proc, a /dev of null, zero and
    urandom, and an empty /tmp for the scratch.  The host's tree is then detached: its files and
    unix sockets do not exist for the call.  Host symlinks among ``binds`` (``/lib -> usr/lib``)
    are copied as symlinks.

    Raises OSError when a step fails before the pivot; the partial root is detached then, and
    the call's mounts are as before.
    """
    root = NEW_ROOT
    os.umask(0o022)  # its folders must be open to nobody
    _mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,nr_inodes=4096,mode=0755")
    try:
        done = []
        here = os.path.dirname(os.path.abspath(__file__))  # the project's files: never
        paths = [os.path.normpath(p) for p in [*binds, *sys.path]
                 if p and os.path.isabs(p) and os.path.lexists(p) and os.path.normpath(p) != here]
        for path in sorted(set(paths)):
            if path == "/" or any(path == d or path.startswith(d + "/") for d in [*OWN_DIRS, *done]):
                continue  # bound already (under a bound folder or a copied symlink), or the call's own
            done.append(path)
            target = root + path
            if os.path.realpath(os.path.dirname(target)) != os.path.dirname(target):
                continue  # never through a symlink (only a top folder's, whose contents are skipped above)
            os.makedirs(os.path.dirname(target), mode=0o755, exist_ok=True)
            if os.path.islink(path) and os.path.dirname(path) == "/":
                os.symlink(os.readlink(path), target)
                continue
            if os.path.isdir(path):
                os.mkdir(target, 0o755)
            else:
                open(target, "w").close()
            _mount(path, target, None, MS_BIND | MS_REC)
        for name in ("proc", "dev", "tmp"):
            os.mkdir(f"{root}/{name}", 0o755)
        _mount("/proc", f"{root}/proc", None, MS_BIND | MS_REC)
        _mount("tmpfs", f"{root}/dev", "tmpfs", MS_NOSUID | MS_NOEXEC, "size=4k,nr_inodes=16,mode=0755")
        for name in DEVICES:
            open(f"{root}/dev/{name}", "w").close()
            _mount(f"/dev/{name}", f"{root}/dev/{name}", None, MS_BIND)
        for name, fd in (("stdin", 0), ("stdout", 1), ("stderr", 2)):
            os.symlink(f"/proc/self/fd/{fd}", f"{root}/dev/{name}")
        os.symlink("/proc/self/fd", f"{root}/dev/fd")
        os.chdir(root)
        _syscall("pivot_root", b".", b".")
    except OSError:
        os.chdir("/")
        _libc().umount2(root.encode(), MNT_DETACH)
        raise
    # the old root is stacked under the new one: detach it, with every host mount (past the
    # pivot there is no way back: a failure fails the call)
    if _libc().umount2(b".", MNT_DETACH) == -1:
        raise RuntimeError("the host's root could not be detached from the call's")
    os.chdir("/")


def _read_only_mounts():
    """Every mount read-only (its nosuid/nodev/noexec/atime flags kept, which a user namespace
    requires), but the call's /proc.  Raises OSError when a writable mount cannot be made
    read-only."""
    for point in _mount_points():
        if point == "/proc" or point.startswith("/proc/"):
            continue  # the call's own /proc (--mount-proc): a process may write only its own entries
        try:
            flags = os.statvfs(point).f_flag
        except OSError:
            continue  # hidden under another mount
        if flags & os.ST_RDONLY:
            continue
        keep = flags & (os.ST_NOSUID | os.ST_NODEV | os.ST_NOEXEC | os.ST_NOATIME | os.ST_NODIRATIME)
        keep |= MS_RELATIME if flags & os.ST_RELATIME else 0
        _mount(None, point, None, MS_REMOUNT | MS_BIND | MS_RDONLY | keep)


def _isolate_filesystem(limits, binds):
    """The call's filesystem: the minimal root (where this machine allows it; else the host's
    tree, as before), every mount read-only, the scratch tmpfs at /tmp capped at ``disk_mb`` and
    ``max_files``, and (host tree only) empty read-only tmpfs over /var/tmp and /dev/shm."""
    try:
        _minimal_root(binds)
        FEATURES["root"] = "minimal"
    except OSError as exc:
        FEATURES["root"] = f"host ({exc.strerror or exc})"
    _read_only_mounts()
    scratch = f"size={int(limits['disk_mb'])}m,nr_inodes={int(limits['max_files'])},mode=1777"
    _mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, scratch)
    for hidden in ("/var/tmp", "/dev/shm"):
        if os.path.isdir(hidden):
            _mount("tmpfs", hidden, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k")


def _join_session_keyring():
    """A new, empty session keyring for this call (KEYCTL_JOIN_SESSION_KEYRING with no name),
    instead of the parent's, which every call would share."""
    try:
        _syscall("keyctl", KEYCTL_JOIN_SESSION_KEYRING, None)
        FEATURES["keyring"] = "own session keyring"
    except OSError as exc:
        FEATURES["keyring"] = f"the parent's session keyring ({exc.strerror or exc})"


def _own_user_namespace():
    """After the drop to nobody: a user namespace of this call's own, with nobody mapped to
    itself, so that the user keyring (one per user namespace) is the call's, not the one every
    nobody on the host shares; then no capabilities left in it.  Best effort: where user
    namespaces are off, the call keeps nobody's user keyring (FEATURES says so)."""
    if _in_own_user_namespace():
        FEATURES["keyring"] += ", own user keyring (the call's user namespace)"
        return
    libc = _libc()
    try:
        libc.prctl(4, 1, 0, 0, 0)  # PR_SET_DUMPABLE: /proc/self/*_map belong to nobody only then
        _check(libc.unshare(CLONE_NEWUSER), "unshare(CLONE_NEWUSER)")
        uid, gid = os.geteuid(), os.getegid()
        for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{gid} {gid} 1")):
            with open(f"/proc/self/{name}", "w") as f:
                f.write(text)
        _syscall("keyctl", KEYCTL_SETPERM, KEY_SPEC_USER_KEYRING, KEY_POS_ALL)  # no other call of nobody's
        _no_capabilities()
        FEATURES["keyring"] += ", own user keyring"
    except OSError as exc:
        FEATURES["keyring"] += f", nobody's user keyring ({exc.strerror or exc})"
    finally:
        libc.prctl(4, 0, 0, 0, 0)


def _apply_limits(limits):
    for name in PRELOADED:
        __import__(name)
    mem = int(limits["memory_mb"]) * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
    cpu = int(limits["cpu_s"]) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
    resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_BYTES, FILE_BYTES))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    nproc = int(limits["max_processes"])
    resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
    if os.geteuid() != 0:
        return
    if _mapped(NOBODY):  # root ignores RLIMIT_NPROC and may write anywhere: become nobody
        os.setgroups([])
        os.setgid(NOBODY)
        os.setuid(NOBODY)
    else:  # unshare -r (a parent that is not root): uid 0 of the call's user namespace only
        _no_capabilities()


def _uid_map():
    """(inside, outside, count) lines of this process's user namespace."""
    with open("/proc/self/uid_map") as f:
        return [tuple(int(n) for n in line.split()) for line in f]


def _mapped(uid):
    return any(inside <= uid < inside + count for inside, _, count in _uid_map())


def _in_own_user_namespace():
    """Whether this process is in a user namespace other than the host's (``unshare -r``)."""
    return _uid_map() != [(0, 0, 4294967295)]


def _no_capabilities():
    """No capabilities left, none to gain by exec (no_new_privs)."""
    import ctypes
    libc = _libc()
    _check(libc.prctl(38, 1, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)")
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this thread
    _check(libc.capset(header, (ctypes.c_uint32 * 6)()), "capset")  # effective, permitted, inheritable: none


def _guard(event, args):
    if event.startswith(BLOCKED_EVENTS) and event != "socket.gethostname":
        raise PermissionError(f"not allowed in the sandbox ({event})")


def _judge_function(nonce, channel, max_calls):
    calls = [0]

    def eval_with_llm_judge(instructions, submission, criteria):
        """Ask the run's LLM judge whether ``submission`` meets ``criteria``; returns a bool."""
        if calls[0] >= max_calls:
            raise RuntimeError("no LLM judge is configured" if max_calls == 0
                               else f"more than {max_calls} judge calls in one sandbox call")
        calls[0] += 1
        fields = {"instructions": instructions, "submission": submission, "criteria": criteria}
        request = {k: str(v)[:JUDGE_FIELD_CHARS] for k, v in fields.items()}
        channel.write(nonce + "J" + json.dumps(request) + "\n")
        channel.flush()
        reply = json.loads(sys.stdin.readline() or '{"error": "judge channel closed"}')
        if "error" in reply:
            raise RuntimeError(f"judge failed: {reply['error']}")
        return bool(reply["verdict"])

    return eval_with_llm_judge


def _load_family(code, judge=None):
    namespace = {"__name__": "task_family", "eval_with_llm_judge": judge}
    exec(compile(code, "<task_family>", "exec"), namespace)
    family = namespace.get("TaskFamily")
    if family is None:
        raise ValueError("the code defines no class named TaskFamily")
    for name in ("get_tasks", "get_instructions", "score"):
        if not callable(getattr(family, name, None)):
            raise ValueError(f"TaskFamily has no method {name}()")
    return family


def _redraw(draw):
    """Re-seed the ``random`` module for draw ``draw`` (> 0) before the family's code runs: every
    seed the code gives (``random.Random(SEED)``, ``random.seed(SEED)``) is mixed with the draw,
    and the unseeded global stream starts from the draw, so ``get_tasks()`` runs its own generator
    on another seed.  A family whose instances need no randomness gives the same ones."""
    import random

    class Redrawn(random.Random):
        def seed(self, a=None, version=2):
            super().seed(f"{a!r}/draw-{draw}")

    shared = Redrawn()
    random.Random = Redrawn
    random._inst = shared
    for name in ("seed", "random", "uniform", "triangular", "randint", "choice", "randrange", "sample", "shuffle",
                 "choices", "normalvariate", "lognormvariate", "expovariate", "vonmisesvariate", "gammavariate",
                 "gauss", "betavariate", "paretovariate", "weibullvariate", "getstate", "setstate", "getrandbits",
                 "randbytes", "binomialvariate"):
        if hasattr(shared, name):
            setattr(random, name, getattr(shared, name))
    shared.seed(None)


def _handle(req, judge):
    if req["op"] == "probe":  # no task code: what this machine gives a call
        return {"probe": dict(FEATURES)}
    if req.get("draw"):
        _redraw(int(req["draw"]))
    family = _load_family(req["code"], judge)
    if req["op"] == "instances":
        tasks = family.get_tasks()
        if not isinstance(tasks, dict) or not tasks:
            raise ValueError("get_tasks() must return a non-empty dict")
        out = {}
        for key in sorted(tasks, key=str)[: int(req["max_instances"])]:
            t = tasks[key]
            json.dumps(t)  # instances must be JSON data
            out[str(key)] = {"task": t, "instructions": str(family.get_instructions(t))}
        return {"instances": out}
    scores, errors = {}, {}
    for item in req["items"]:
        iid = item["instance_id"]
        try:
            value = float(family.score(item["task"], item["submission"]))
            if value != value:  # NaN
                raise ValueError("score() returned NaN")
            scores[iid] = min(1.0, max(0.0, value))
        except BaseException as exc:  # noqa: BLE001 - untrusted code; every failure scores 0
            scores[iid] = 0.0
            errors[iid] = f"{type(exc).__name__}: {exc}"[:500]
    return {"scores": scores, "errors": errors}


def main():
    req = json.loads(sys.stdin.readline())
    nonce = req["nonce"]
    real_stdout = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # whatever the task prints goes to stderr
    try:
        if req["isolated"]:
            _isolate_filesystem(req["limits"], req.get("root_binds", []))
        _join_session_keyring()
        _apply_limits(req["limits"])
        if req["isolated"]:
            _own_user_namespace()
        os.chdir("/tmp" if req["isolated"] else req["scratch"])
        sys.addaudithook(_guard)
        judge = _judge_function(nonce, real_stdout, int(req.get("max_judge_calls", 0)))
        reply = _handle(req, judge)
    except BaseException:  # noqa: BLE001
        reply = {"fatal": traceback.format_exc(limit=3)[-1500:]}
    try:
        line = json.dumps(reply)
    except BaseException:  # noqa: BLE001 - e.g. task data nested too deeply to encode
        line = json.dumps({"fatal": traceback.format_exc(limit=1)[-1500:]})
    real_stdout.write(nonce + line + "\n")
    real_stdout.flush()
    os._exit(0)  # at once: no waiting on threads the task code started


if __name__ == "__main__":
    main()
