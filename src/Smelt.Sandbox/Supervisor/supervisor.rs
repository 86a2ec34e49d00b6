// smelt-supervisor: runs as the only program of one bubblewrap sandbox (a "session") and starts each program the host asks
// for in namespaces of its own, so that many short runs share the cost of one sandbox launch without sharing anything
// with each other.
//
// Per run: clone() into a new PID, mount, IPC and network namespace. That first process ("init", pid 1 of the new PID
// namespace) joins the run's cgroups, mounts a fresh /proc, a fresh sized /tmp and /dev/shm, hides every other run's work
// directory, enters a user namespace of the run's own (uid 65534, no further user namespaces), forks the program, and
// reports how it ended. The program drops every capability (ambient, bounding,
// permitted), sets no_new_privs, loads the seccomp program and execs. When init exits, the kernel kills whatever the
// program left behind in its PID namespace.
//
// Protocol: the host writes requests to stdin as netstrings ("<len>:<bytes>,"); each request is a kind ("run", "kill")
// followed by its fields. The supervisor answers on stdout with frames: kind byte, run id (u32 LE), length (u32 LE),
// payload. Kinds: 'R' ready, 'o' stdout bytes, 'e' stderr bytes, 'x' the run ended ("exit N" or "signal N"),
// 'f' the run could not be started (message), 'F' the session failed (message).
//
// Only raw system calls run between clone() and execve(): everything they need is prepared before.

use std::collections::HashMap;
use std::ffi::CString;
use std::fs::File;
use std::io::{BufReader, Read, Write};
use std::os::fd::FromRawFd;
use std::os::raw::{c_char, c_int, c_long, c_ulong, c_void};
use std::sync::{Arc, Mutex};

extern "C" {
    fn syscall(n: c_long, ...) -> c_long;
    fn pipe2(fds: *mut c_int, flags: c_int) -> c_int;
    fn close(fd: c_int) -> c_int;
    fn dup2(old: c_int, new: c_int) -> c_int;
    fn write(fd: c_int, buf: *const c_void, n: usize) -> isize;
    fn read(fd: c_int, buf: *mut c_void, n: usize) -> isize;
    fn poll(fds: *mut PollFd, n: u64, timeout: c_int) -> c_int;
    fn execve(path: *const c_char, argv: *const *const c_char, envp: *const *const c_char) -> c_int;
    fn waitpid(pid: c_int, status: *mut c_int, options: c_int) -> c_int;
    fn kill(pid: c_int, sig: c_int) -> c_int;
    fn _exit(code: c_int) -> !;
    fn mount(src: *const c_char, target: *const c_char, fstype: *const c_char, flags: c_ulong, data: *const c_void) -> c_int;
    fn umount2(target: *const c_char, flags: c_int) -> c_int;
    fn mkdir(path: *const c_char, mode: u32) -> c_int;
    fn open(path: *const c_char, flags: c_int, ...) -> c_int;
    fn chdir(path: *const c_char) -> c_int;
    fn setrlimit(resource: c_int, rlim: *const Rlimit) -> c_int;
    fn prctl(option: c_int, a2: c_ulong, a3: c_ulong, a4: c_ulong, a5: c_ulong) -> c_int;
    fn setsid() -> c_int;
    fn unshare(flags: c_int) -> c_int;
    fn setns(fd: c_int, nstype: c_int) -> c_int;
    fn signal(sig: c_int, handler: usize) -> usize;
    fn __errno_location() -> *mut c_int;
}

#[repr(C)]
struct Rlimit {
    cur: u64,
    max: u64,
}

#[repr(C)]
struct SockFprog {
    len: u16,
    filter: *const u8,
}

#[repr(C)]
struct LandlockRulesetAttr {
    handled_access_fs: u64,
    handled_access_net: u64,
    scoped: u64,
}

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: c_int,
}

#[repr(C)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

#[cfg(target_arch = "x86_64")]
mod nr {
    pub const CLONE: i64 = 56;
    pub const CAPSET: i64 = 126;
}
#[cfg(target_arch = "aarch64")]
mod nr {
    pub const CLONE: i64 = 220;
    pub const CAPSET: i64 = 91;
}
const SYS_CLOSE_RANGE: c_long = 436;
const SYS_LANDLOCK_CREATE_RULESET: c_long = 444;
const SYS_LANDLOCK_RESTRICT_SELF: c_long = 446;
const LANDLOCK_CREATE_RULESET_VERSION: c_ulong = 1;
/// Landlock ABI 6 (Linux 6.12) scopes abstract unix sockets and signals to the domain.
const LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET: u64 = 1;
const LANDLOCK_SCOPE_SIGNAL: u64 = 2;

const CLONE_NEWNS: c_int = 0x0002_0000;
const CLONE_NEWIPC: c_int = 0x0800_0000;
const CLONE_NEWUSER: c_int = 0x1000_0000;
const CLONE_NEWPID: c_int = 0x2000_0000;
const CLONE_NEWNET: c_int = 0x4000_0000;
const SIGCHLD: c_int = 17;
const SIGKILL: c_int = 9;
const SIGPIPE: c_int = 13;
const SIG_DFL: usize = 0;
const O_RDONLY: c_int = 0;
const O_WRONLY: c_int = 1;
const O_CLOEXEC: c_int = 0o2000000;
const MS_RDONLY: c_ulong = 1;
const MS_NOSUID: c_ulong = 2;
const MS_NODEV: c_ulong = 4;
const MS_NOEXEC: c_ulong = 8;
const MS_REMOUNT: c_ulong = 32;
const MS_BIND: c_ulong = 4096;
const MS_MOVE: c_ulong = 8192;
const MS_REC: c_ulong = 16384;
const MS_PRIVATE: c_ulong = 1 << 18;
const MNT_DETACH: c_int = 2;
const PR_SET_PDEATHSIG: c_int = 1;
const PR_SET_SECCOMP: c_int = 22;
const PR_CAPBSET_DROP: c_int = 24;
const PR_SET_NO_NEW_PRIVS: c_int = 38;
const PR_CAP_AMBIENT: c_int = 47;
const PR_CAP_AMBIENT_CLEAR_ALL: c_ulong = 4;
const SECCOMP_MODE_FILTER: c_ulong = 2;
const CLOSE_RANGE_CLOEXEC: c_ulong = 4;
const RLIMIT_CPU: c_int = 0;
const RLIMIT_FSIZE: c_int = 1;
const RLIMIT_CORE: c_int = 4;
const RLIMIT_NPROC: c_int = 6;
const RLIMIT_NOFILE: c_int = 7;
const RLIMIT_AS: c_int = 9;
const EINTR: c_int = 4;
const ENOENT: c_int = 2;
/// The mount point (created by bwrap) where a run's own work directory waits while the runs root is covered.
const STAGE: &str = "/.smelt-stage";

fn errno() -> c_int {
    unsafe { *__errno_location() }
}

type Out = Arc<Mutex<std::io::Stdout>>;

fn frame(out: &Out, kind: u8, id: u32, payload: &[u8]) {
    let mut header = [0u8; 9];
    header[0] = kind;
    header[1..5].copy_from_slice(&id.to_le_bytes());
    header[5..9].copy_from_slice(&(payload.len() as u32).to_le_bytes());
    let mut o = out.lock().unwrap();
    // The host gone means nothing is left to do: the main loop sees stdin close and ends the session.
    let _ = o.write_all(&header).and_then(|_| o.write_all(payload)).and_then(|_| o.flush());
}

/// Reads one netstring field from stdin; None at a clean end of input.
fn field(input: &mut impl Read) -> Result<Option<Vec<u8>>, String> {
    let mut len: usize = 0;
    let mut digits = 0;
    loop {
        let mut b = [0u8; 1];
        match input.read(&mut b) {
            Ok(0) if digits == 0 => return Ok(None),
            Ok(0) => return Err("request truncated".into()),
            Ok(_) => {}
            Err(e) => return Err(format!("reading requests: {e}")),
        }
        match b[0] {
            b'0'..=b'9' if digits < 9 => {
                len = len * 10 + (b[0] - b'0') as usize;
                digits += 1;
            }
            b':' if digits > 0 => break,
            _ => return Err("malformed request (expected a netstring length)".into()),
        }
    }
    let mut data = vec![0u8; len + 1];
    input.read_exact(&mut data).map_err(|e| format!("request truncated: {e}"))?;
    if data.pop() != Some(b',') {
        return Err("malformed request (netstring without its comma)".into());
    }
    Ok(Some(data))
}

fn text(f: Vec<u8>) -> Result<String, String> {
    String::from_utf8(f).map_err(|_| "request field is not UTF-8".to_string())
}

fn number(f: Vec<u8>) -> Result<u64, String> {
    text(f)?.parse::<u64>().map_err(|_| "request field is not a number".to_string())
}

fn cstring(s: Vec<u8>) -> Result<CString, String> {
    CString::new(s).map_err(|_| "request field contains a NUL byte".to_string())
}

/// Everything the two child processes of a run need, prepared before clone() so they never allocate.
struct Run {
    id: u32,
    work: CString,
    tmp_options: CString,
    shm_options: CString,
    limits: Vec<(c_int, u64, u64)>,
    cgroup_procs: Vec<CString>,
    program: CString,
    argv: Vec<CString>,
    env: Vec<CString>,
    stdin: Vec<u8>,
}

fn read_run(input: &mut impl Read) -> Result<Run, String> {
    let mut next = || field(input)?.ok_or_else(|| "request truncated".to_string());
    let id = number(next()?)? as u32;
    let work = cstring(next()?)?;
    let tmp_bytes = number(next()?)?;
    let cpu = number(next()?)?;
    let address_space = number(next()?)?;
    let file_size = number(next()?)?;
    let open_files = number(next()?)?;
    let processes = number(next()?)?;
    let mut cgroup_procs = Vec::new();
    for _ in 0..number(next()?)? {
        cgroup_procs.push(cstring(next()?)?);
    }
    let mut env = Vec::new();
    for _ in 0..number(next()?)? {
        env.push(cstring(next()?)?);
    }
    let mut argv = Vec::new();
    for _ in 0..number(next()?)? {
        argv.push(cstring(next()?)?);
    }
    let stdin = next()?;
    if argv.is_empty() {
        return Err("empty command".into());
    }
    let mut limits = vec![(RLIMIT_CPU, cpu, cpu + 1), (RLIMIT_AS, address_space, address_space), (RLIMIT_FSIZE, file_size, file_size),
        (RLIMIT_NOFILE, open_files, open_files), (RLIMIT_CORE, 0, 0)];
    if processes > 0 {
        limits.push((RLIMIT_NPROC, processes, processes));
    }
    Ok(Run {
        id,
        work,
        tmp_options: CString::new(format!("size={tmp_bytes},mode=1777")).unwrap(),
        shm_options: CString::new(format!("size={},mode=1777", tmp_bytes.min(64 << 20))).unwrap(),
        limits,
        cgroup_procs,
        program: argv[0].clone(),
        argv,
        env,
        stdin,
    })
}

/// Session-wide facts every run needs: the seccomp program, the covered runs root, the cgroup mounts to detach.
struct Session {
    seccomp: Vec<u8>,
    runs_root: CString,
    cgroup_mounts: Vec<CString>,
    /// Every run has a network namespace of its own (abstract unix sockets, /proc/net are per network namespace). Where
    /// the kernel has Landlock ABI 6, each run is also put in a Landlock domain scoping abstract unix sockets and signals:
    /// a second wall, not a replacement (sharing one network namespace would still let runs see and squat each other's
    /// abstract socket names).
    landlock_scopes: bool,
    /// Network namespaces of finished runs, each handed to one later run at a time: creating and tearing down a network
    /// namespace is ~0.5 ms of CPU, a quarter of a run's sandbox cost. A run that finds the pool empty is cloned into a
    /// fresh one. A namespace joins the pool only after every process of its run is dead (the run's PID namespace is
    /// gone) and only when no unix socket is left in it, so nothing of a run (a socket, an abstract name) reaches the next.
    netns_pool: Mutex<Vec<c_int>>,
}

// ---- code that runs between clone() and execve(): raw system calls only, no allocation ----

/// Appends bytes to a fixed buffer (no allocation), dropping what does not fit.
fn put(buf: &mut [u8], n: &mut usize, bytes: &[u8]) {
    for &b in bytes {
        if *n < buf.len() {
            buf[*n] = b;
            *n += 1;
        }
    }
}

/// Appends a number in decimal (no allocation).
fn put_decimal(buf: &mut [u8], n: &mut usize, mut value: u32) {
    let mut digits = [0u8; 10];
    let mut d = 0;
    loop {
        digits[d] = b'0' + (value % 10) as u8;
        d += 1;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    while d > 0 {
        d -= 1;
        put(buf, n, &digits[d..d + 1]);
    }
}

/// Writes "fail <what> (errno N)" to the status pipe.
fn report(fd: c_int, what: &[u8], err: c_int) {
    let mut buf = [0u8; 256];
    let mut n = 0;
    put(&mut buf[..240], &mut n, b"fail ");
    put(&mut buf[..240], &mut n, what);
    if err != 0 {
        put(&mut buf, &mut n, b" (errno ");
        put_decimal(&mut buf, &mut n, err as u32);
        put(&mut buf, &mut n, b")");
    }
    put(&mut buf, &mut n, b"\n");
    unsafe { write(fd, buf.as_ptr() as *const c_void, n) };
}

fn fail(fd: c_int, what: &[u8]) -> ! {
    report(fd, what, errno());
    unsafe { _exit(126) }
}

fn check(rc: c_int, fd: c_int, what: &[u8]) {
    if rc != 0 {
        fail(fd, what);
    }
}

fn write_file(path: &std::ffi::CStr, data: &[u8], status: c_int) {
    unsafe {
        let fd = open(path.as_ptr(), O_WRONLY | O_CLOEXEC);
        if fd < 0 || write(fd, data.as_ptr() as *const c_void, data.len()) != data.len() as isize {
            fail(status, path.to_bytes());
        }
        close(fd);
    }
}

/// Closes fds low..=high: close_range (Linux 5.9), else one by one up to 65535.
fn close_fds(low: c_int, high: c_int) {
    unsafe {
        if syscall(SYS_CLOSE_RANGE, low as c_ulong, high as u32 as c_ulong, 0 as c_ulong) != 0 {
            let mut fd = low;
            while fd <= high.min(65535) {
                close(fd);
                fd += 1;
            }
        }
    }
}

/// Binds a path onto itself read-only (missing paths are skipped when `optional`). The bind takes the mounts below along
/// (the kernel refuses to bind a mount without its locked submounts); the remount makes only the top one read-only, so
/// those below (a run's /dev/shm, the device nodes) keep their own flags.
fn read_only(path: &std::ffi::CStr, status: c_int, optional: bool, extra: c_ulong) {
    unsafe {
        let none = std::ptr::null::<c_char>();
        if mount(path.as_ptr(), path.as_ptr(), none, MS_BIND | MS_REC, std::ptr::null()) != 0 {
            if optional && errno() == ENOENT {
                return;
            }
            fail(status, path.to_bytes());
        }
        check(mount(none, path.as_ptr(), none, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NOEXEC | extra, std::ptr::null()), status, path.to_bytes());
    }
}

fn cptr(s: &CString) -> *const c_char {
    s.as_ptr()
}

/// pid 1 of the run's PID namespace.
fn init(run: &Run, session: &Session, pipes: &RunPipes, argv: &[*const c_char], envp: &[*const c_char]) -> ! {
    let status = pipes.status_w;
    unsafe {
        prctl(PR_SET_PDEATHSIG, SIGKILL as c_ulong, 0, 0, 0);
        if pipes.netns >= 0 {
            check(setns(pipes.netns, CLONE_NEWNET), status, b"cannot enter the run's network namespace");
        }
        // Only this run's pipe ends stay open: the supervisor's request and frame pipes and other runs' pipes (whose
        // stdin would otherwise never reach its end) are closed.
        close(0);
        close(1);
        let mut keep = [pipes.in_r, pipes.out_w, pipes.err_w, pipes.status_w];
        keep.sort_unstable();
        let mut low: c_int = 3;
        for &k in &keep {
            if k > low {
                close_fds(low, k - 1);
            }
            low = k + 1;
        }
        close_fds(low, c_int::MAX);
        // 7. No handler of the supervisor's (Rust's runtime installs some) stays on init, which the program could signal.
        for sig in 1..65 {
            signal(sig, SIG_DFL);
        }
        // Cgroups first, so every process of the run is accounted from its first instruction.
        for procs in &run.cgroup_procs {
            let fd = open(cptr(procs), O_WRONLY | O_CLOEXEC);
            if fd < 0 || write(fd, b"0".as_ptr() as *const c_void, 1) != 1 {
                fail(status, b"cannot join the run's cgroup");
            }
            close(fd);
        }
        let none = std::ptr::null::<c_char>();
        check(mount(none, c"/".as_ptr(), none, MS_REC | MS_PRIVATE, std::ptr::null()), status, b"cannot make mounts private");
        check(mount(c"proc".as_ptr(), c"/proc".as_ptr(), c"proc".as_ptr(), MS_NOSUID | MS_NODEV | MS_NOEXEC, std::ptr::null()), status, b"cannot mount /proc");
        check(mount(c"tmpfs".as_ptr(), c"/tmp".as_ptr(), c"tmpfs".as_ptr(), MS_NOSUID | MS_NODEV, run.tmp_options.as_ptr() as *const c_void), status, b"cannot mount /tmp");
        check(mount(c"tmpfs".as_ptr(), c"/dev/shm".as_ptr(), c"tmpfs".as_ptr(), MS_NOSUID | MS_NODEV | MS_NOEXEC, run.shm_options.as_ptr() as *const c_void), status, b"cannot mount /dev/shm");
        // Only this run's work directory stays visible under the runs root, at the same path.
        check(mount(cptr(&run.work), c"/.smelt-stage".as_ptr(), none, MS_BIND | MS_REC, std::ptr::null()), status, b"cannot bind the work directory");
        check(mount(c"tmpfs".as_ptr(), cptr(&session.runs_root), c"tmpfs".as_ptr(), MS_NOSUID | MS_NODEV, c"size=16k,mode=755".as_ptr() as *const c_void), status, b"cannot cover the runs root");
        check(mkdir(cptr(&run.work), 0o755), status, b"cannot create the work directory mount point");
        check(mount(c"/.smelt-stage".as_ptr(), cptr(&run.work), none, MS_MOVE, std::ptr::null()), status, b"cannot move the work directory into place");
        check(mount(none, cptr(&session.runs_root), none, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, std::ptr::null()), status, b"cannot make the runs root read-only");
        for m in &session.cgroup_mounts {
            check(umount2(cptr(m), MNT_DETACH), status, b"cannot detach the cgroup mount");
        }
        // A user namespace of the run's own, as bwrap makes for --uid: the program is uid/gid 65534, and this namespace's
        // limit on further user namespaces is 0. Its own mount namespace comes with it, so /proc/sys can be made
        // read-only from here (the mounts above are locked in it: the program cannot undo them).
        check(unshare(CLONE_NEWUSER | CLONE_NEWNS), status, b"cannot create the run's user namespace");
        write_file(c"/proc/self/setgroups", b"deny", status);
        write_file(c"/proc/self/uid_map", b"65534 0 1", status);
        write_file(c"/proc/self/gid_map", b"65534 0 1", status);
        write_file(c"/proc/sys/user/max_user_namespaces", b"0", status);
        // bwrap's covers of /proc: the program's uid maps back to the caller's (root for a root host), and the kernel files
        // below check only file permissions (IRQ affinities, PCI config space, SysRq).
        for path in [c"/proc/sys", c"/proc/sysrq-trigger", c"/proc/irq", c"/proc/bus"] {
            read_only(path, status, true, MS_NODEV);
        }
        // /dev is shared by every run of the session, so bwrap makes it read-only for the whole session (device nodes stay
        // usable; no file, socket or symlink can be left there for a neighbour); each run gets a pseudo-terminal instance
        // of its own.
        check(mount(c"devpts".as_ptr(), c"/dev/pts".as_ptr(), c"devpts".as_ptr(), MS_NOSUID | MS_NOEXEC, c"newinstance,ptmxmode=0666,mode=620".as_ptr() as *const c_void), status, b"cannot mount /dev/pts");
        // A raw clone, not glibc's fork(): fork() takes allocator locks that another supervisor thread may have held
        // when this process was cloned, and would wait for them forever.
        let child = syscall(nr::CLONE, SIGCHLD as c_ulong, 0 as c_ulong, 0 as c_ulong, 0 as c_ulong, 0 as c_ulong) as c_int;
        if child < 0 {
            fail(status, b"cannot fork the program");
        }
        if child == 0 {
            program(run, session, pipes, argv, envp);
        }
        close(pipes.out_w);
        close(pipes.err_w);
        loop {
            let mut st: c_int = 0;
            let r = waitpid(-1, &mut st, 0);
            if r == child {
                let mut buf = [0u8; 32];
                let (word, value): (&[u8], c_int) = if st & 0x7f == 0 { (b"exit ", (st >> 8) & 0xff) } else { (b"signal ", st & 0x7f) };
                let mut n = 0;
                put(&mut buf, &mut n, word);
                put_decimal(&mut buf, &mut n, value as u32);
                put(&mut buf, &mut n, b"\n");
                write(status, buf.as_ptr() as *const c_void, n);
                _exit(0);
            }
            if r < 0 && errno() != EINTR {
                fail(status, b"lost the program");
            }
        }
    }
}

/// The program's own process: streams, limits, no privileges, seccomp, exec.
fn program(run: &Run, session: &Session, pipes: &RunPipes, argv: &[*const c_char], envp: &[*const c_char]) -> ! {
    let status = pipes.status_w;
    unsafe {
        check((dup2(pipes.in_r, 0) < 0) as c_int, status, b"cannot attach stdin");
        check((dup2(pipes.out_w, 1) < 0) as c_int, status, b"cannot attach stdout");
        check((dup2(pipes.err_w, 2) < 0) as c_int, status, b"cannot attach stderr");
        // Every other descriptor closes at exec (the status pipe stays usable until then).
        if syscall(SYS_CLOSE_RANGE, 3 as c_ulong, !0u32 as c_ulong, CLOSE_RANGE_CLOEXEC) != 0 {
            // Before Linux 5.11: close them now, all but the status pipe (which is close-on-exec already).
            close_fds(3, status - 1);
            close_fds(status + 1, c_int::MAX);
        }
        // The supervisor ignores SIGPIPE (Rust's runtime does); an ignored signal would stay ignored across exec.
        signal(SIGPIPE, SIG_DFL);
        check(chdir(cptr(&run.work)), status, b"cannot enter the work directory");
        for &(resource, cur, max) in &run.limits {
            check(setrlimit(resource, &Rlimit { cur, max }), status, b"cannot set a resource limit");
        }
        check((setsid() < 0) as c_int, status, b"cannot start a new session");
        check(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0), status, b"cannot clear ambient capabilities");
        for cap in 0..64 {
            prctl(PR_CAPBSET_DROP, cap, 0, 0, 0); // EINVAL past the last capability this kernel knows
        }
        let header = CapHeader { version: 0x2008_0522, pid: 0 };
        let data = [CapData { effective: 0, permitted: 0, inheritable: 0 }, CapData { effective: 0, permitted: 0, inheritable: 0 }];
        check(syscall(nr::CAPSET, &header as *const CapHeader, data.as_ptr()) as c_int, status, b"cannot drop capabilities");
        check(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), status, b"cannot set no_new_privs");
        if session.landlock_scopes {
            let attr = LandlockRulesetAttr { handled_access_fs: 0, handled_access_net: 0, scoped: LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET | LANDLOCK_SCOPE_SIGNAL };
            let fd = syscall(SYS_LANDLOCK_CREATE_RULESET, &attr as *const LandlockRulesetAttr, std::mem::size_of::<LandlockRulesetAttr>(), 0 as c_ulong) as c_int;
            if fd < 0 {
                fail(status, b"cannot create the Landlock domain");
            }
            check(syscall(SYS_LANDLOCK_RESTRICT_SELF, fd, 0 as c_ulong) as c_int, status, b"cannot enter the Landlock domain");
            close(fd);
        }
        let prog = SockFprog { len: (session.seccomp.len() / 8) as u16, filter: session.seccomp.as_ptr() };
        check(prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog as *const SockFprog as c_ulong, 0, 0), status, b"cannot load the seccomp program");
        execve(cptr(&run.program), argv.as_ptr(), envp.as_ptr());
        fail(status, b"cannot execute the program");
    }
}

// ---- the supervisor proper ----

/// The child ends of a run's pipes.
struct RunPipes {
    in_r: c_int,
    out_w: c_int,
    err_w: c_int,
    status_w: c_int,
    /// A pooled network namespace to enter, or -1 (the run was cloned into a new one).
    netns: c_int,
}

fn pipe() -> Result<(c_int, c_int), String> {
    let mut fds = [0 as c_int; 2];
    if unsafe { pipe2(fds.as_mut_ptr(), O_CLOEXEC) } != 0 {
        return Err(format!("pipe2 failed (errno {})", errno()));
    }
    Ok((fds[0], fds[1]))
}

fn start(run: Run, session: &Arc<Session>, out: &Out, live: &Arc<Mutex<HashMap<u32, c_int>>>) -> Result<(), String> {
    let mut fds = Vec::with_capacity(8);
    for _ in 0..4 {
        match pipe() {
            Ok((r, w)) => fds.extend([r, w]),
            Err(e) => {
                for fd in fds {
                    unsafe { close(fd) };
                }
                return Err(e);
            }
        }
    }
    let (in_r, in_w, out_r, out_w, err_r, err_w, status_r, status_w) = (fds[0], fds[1], fds[2], fds[3], fds[4], fds[5], fds[6], fds[7]);
    let netns = session.netns_pool.lock().unwrap().pop().unwrap_or(-1);
    let pipes = RunPipes { in_r, out_w, err_w, status_w, netns };
    let mut argv: Vec<*const c_char> = run.argv.iter().map(|a| a.as_ptr()).collect();
    argv.push(std::ptr::null());
    let mut envp: Vec<*const c_char> = run.env.iter().map(|e| e.as_ptr()).collect();
    envp.push(std::ptr::null());
    // Held across clone() so that a kill request for this id cannot arrive before the id is in the table.
    let mut table = live.lock().unwrap();
    let net = if netns >= 0 { 0 } else { CLONE_NEWNET };
    let flags = (CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWIPC | net | SIGCHLD) as c_ulong;
    let pid = unsafe { syscall(nr::CLONE, flags, 0 as c_ulong, 0 as c_ulong, 0 as c_ulong, 0 as c_ulong) } as c_int;
    if pid == 0 {
        init(&run, session, &pipes, &argv, &envp);
    }
    if pid < 0 {
        let e = errno();
        for fd in [in_r, in_w, out_r, out_w, err_r, err_w, status_r, status_w] {
            unsafe { close(fd) };
        }
        give_back(session, netns);
        return Err(format!("clone failed (errno {e})"));
    }
    table.insert(run.id, pid);
    drop(table);
    // A run cloned into a fresh network namespace: keep a handle on it (init is alive, waiting for its program) so that it
    // joins the pool when the run is over.
    let netns = if netns >= 0 {
        netns
    } else {
        let path = CString::new(format!("/proc/{pid}/ns/net")).unwrap();
        unsafe { open(path.as_ptr(), O_RDONLY | O_CLOEXEC) }
    };
    unsafe {
        close(in_r);
        close(out_w);
        close(err_w);
        close(status_w);
    }
    let id = run.id;
    let stdin = run.stdin;
    let live = live.clone();
    let out = out.clone();
    let builder = || std::thread::Builder::new().stack_size(128 << 10);
    // Past clone(), a failure must not leave the run behind unsupervised: kill it, reap it, close its pipes.
    let abandon = |why: String, fds: &[c_int]| {
        live.lock().unwrap().remove(&id);
        unsafe {
            kill(pid, SIGKILL);
            let mut st: c_int = 0;
            while waitpid(pid, &mut st, 0) < 0 && errno() == EINTR {}
            for &fd in fds {
                close(fd);
            }
        }
        give_back(session, netns);
        why
    };
    if stdin.is_empty() {
        unsafe { close(in_w) }; // the program reads end-of-file at once
    } else if let Err(e) = builder().spawn(move || {
        let mut w = unsafe { File::from_raw_fd(in_w) };
        let _ = w.write_all(&stdin); // the program may exit without reading
    }) {
        return Err(abandon(format!("cannot start the stdin thread: {e}"), &[in_w, out_r, err_r, status_r]));
    }
    let live_relay = live.clone();
    let session_relay = session.clone();
    // One thread per run relays stdout and stderr as they come, collects init's report, then reaps init.
    let spawned = builder()
        .spawn(move || {
            let mut report = Vec::new();
            relay(id, out_r, err_r, status_r, &out, &mut report);
            // The status pipe is at its end only once init has exited: leave the table first, so that a late kill
            // request can never reach a process that reuses the pid after it is reaped.
            live_relay.lock().unwrap().remove(&id);
            let mut st: c_int = 0;
            while unsafe { waitpid(pid, &mut st, 0) } < 0 && errno() == EINTR {}
            // init is reaped only after every process of its PID namespace is gone: the network namespace is idle now.
            give_back(&session_relay, netns);
            // The program's own failure report comes first; init's "exit N" after it is then only its echo.
            let text = String::from_utf8_lossy(&report);
            let line = text.lines().next().unwrap_or("");
            match line.strip_prefix("fail ") {
                Some(why) => frame(&out, b'f', id, why.as_bytes()),
                None if line.starts_with("exit ") || line.starts_with("signal ") => frame(&out, b'x', id, line.as_bytes()),
                // Killed before it could report: by the host (timeout, output cap) or the kernel (the run's memory limit).
                None if st & 0x7f != 0 => frame(&out, b'x', id, format!("signal {}", st & 0x7f).as_bytes()),
                None => frame(&out, b'f', id, format!("the run's init process ended without a report (wait status {st})").as_bytes()),
            }
        });
    match spawned {
        Ok(_) => Ok(()),
        Err(e) => Err(abandon(format!("cannot start the relay thread: {e}"), &[out_r, err_r, status_r])),
    }
}

/// Returns a run's pooled network namespace, unless the run left a unix socket in it (one kept alive in flight, for
/// instance): such a namespace is closed instead, so no run can leave a bound name for the next.
fn give_back(session: &Session, netns: c_int) {
    if netns < 0 {
        return;
    }
    let clean = unsafe {
        let own = open(c"/proc/thread-self/ns/net".as_ptr(), O_RDONLY | O_CLOEXEC);
        let mut clean = false;
        if own >= 0 && setns(netns, CLONE_NEWNET) == 0 {
            clean = std::fs::read_to_string("/proc/thread-self/net/unix").map(|t| t.lines().count() <= 1).unwrap_or(false);
            if setns(own, CLONE_NEWNET) != 0 {
                // This thread is stuck in the run's namespace; it is about to end anyway, but the namespace is not reused.
                clean = false;
            }
        }
        if own >= 0 {
            close(own);
        }
        clean
    };
    if clean {
        session.netns_pool.lock().unwrap().push(netns);
    } else {
        unsafe { close(netns) };
    }
}

#[repr(C)]
struct PollFd {
    fd: c_int,
    events: i16,
    revents: i16,
}

/// Forwards the run's stdout and stderr as frames and gathers its status report, until all three pipes are at their end.
fn relay(id: u32, out_r: c_int, err_r: c_int, status_r: c_int, out: &Out, report: &mut Vec<u8>) {
    const POLLIN: i16 = 1;
    let mut fds = [PollFd { fd: out_r, events: POLLIN, revents: 0 }, PollFd { fd: err_r, events: POLLIN, revents: 0 }, PollFd { fd: status_r, events: POLLIN, revents: 0 }];
    let mut open = 3;
    let mut buf = vec![0u8; 64 << 10];
    while open > 0 {
        if unsafe { poll(fds.as_mut_ptr(), fds.len() as u64, -1) } < 0 {
            if errno() == EINTR {
                continue;
            }
            break;
        }
        for (i, p) in fds.iter_mut().enumerate() {
            if p.fd < 0 || p.revents == 0 {
                continue;
            }
            let n = unsafe { read(p.fd, buf.as_mut_ptr() as *mut c_void, buf.len()) };
            if n > 0 {
                let data = &buf[..n as usize];
                match i {
                    0 => frame(out, b'o', id, data),
                    1 => frame(out, b'e', id, data),
                    _ => report.extend_from_slice(&data[..data.len().min(4096 - report.len().min(4096))]),
                }
            } else if n == 0 || errno() != EINTR {
                unsafe { close(p.fd) };
                p.fd = -1;
                open -= 1;
            }
        }
    }
    for p in fds.iter().filter(|p| p.fd >= 0) {
        unsafe { close(p.fd) };
    }
}

fn main() {
    let out: Out = Arc::new(Mutex::new(std::io::stdout()));
    let args: Vec<String> = std::env::args().collect();
    // argv: supervisor SECCOMP_FILE RUNS_ROOT [CGROUP_MOUNT...]
    if args.len() < 3 {
        frame(&out, b'F', 0, b"usage: supervisor SECCOMP_FILE RUNS_ROOT [CGROUP_MOUNT...]");
        return;
    }
    let seccomp = match std::fs::read(&args[1]) {
        Ok(b) if !b.is_empty() && b.len() % 8 == 0 && b.len() / 8 < 4096 => b,
        _ => {
            frame(&out, b'F', 0, format!("cannot read the seccomp program {}", args[1]).as_bytes());
            return;
        }
    };
    // The stage mount point must exist and be empty; the runs root must exist.
    for p in [STAGE, args[2].as_str()] {
        let c = CString::new(p).unwrap();
        let fd = unsafe { open(c.as_ptr(), O_RDONLY | O_CLOEXEC) };
        if fd < 0 {
            frame(&out, b'F', 0, format!("{p} is missing in the sandbox").as_bytes());
            return;
        }
        unsafe { close(fd) };
    }
    let abi = unsafe { syscall(SYS_LANDLOCK_CREATE_RULESET, std::ptr::null::<c_void>(), 0usize, LANDLOCK_CREATE_RULESET_VERSION) };
    let session = Arc::new(Session {
        seccomp,
        runs_root: CString::new(args[2].clone()).unwrap(),
        cgroup_mounts: args[3..].iter().map(|m| CString::new(m.clone()).unwrap()).collect(),
        landlock_scopes: abi >= 6,
        netns_pool: Mutex::new(Vec::new()),
    });
    let live: Arc<Mutex<HashMap<u32, c_int>>> = Arc::new(Mutex::new(HashMap::new()));
    let mode = if session.landlock_scopes { format!("ready netns-per-run, landlock-abi-{abi}") } else { "ready netns-per-run".to_string() };
    frame(&out, b'R', 0, mode.as_bytes());
    let mut input = BufReader::new(std::io::stdin());
    loop {
        let kind = match field(&mut input) {
            Ok(Some(k)) => k,
            Ok(None) => break,
            Err(e) => {
                frame(&out, b'F', 0, e.as_bytes());
                break;
            }
        };
        match kind.as_slice() {
            b"run" => match read_run(&mut input) {
                Ok(run) => {
                    let id = run.id;
                    if let Err(e) = start(run, &session, &out, &live) {
                        frame(&out, b'f', id, e.as_bytes());
                    }
                }
                Err(e) => {
                    frame(&out, b'F', 0, e.as_bytes());
                    break;
                }
            },
            b"kill" => match field(&mut input).ok().flatten().map(number) {
                Some(Ok(id)) => {
                    if let Some(&pid) = live.lock().unwrap().get(&(id as u32)) {
                        unsafe { kill(pid, SIGKILL) };
                    }
                }
                _ => {
                    frame(&out, b'F', 0, b"malformed kill request");
                    break;
                }
            },
            _ => {
                frame(&out, b'F', 0, b"unknown request");
                break;
            }
        }
    }
    // The host closed the session (or sent garbage): nothing started here outlives it.
    for (_, pid) in live.lock().unwrap().iter() {
        unsafe { kill(*pid, SIGKILL) };
    }
}
