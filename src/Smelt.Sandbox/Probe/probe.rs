// Smelt sandbox self-check probe. Compiled inside the sandbox under test and run there, one attempt per invocation.
// Exit 0 means "the attempt succeeded" (which, for every attempt but `seccomp`, means the sandbox failed to stop it).
use std::io::Write;

extern "C" {
    fn socket(domain: i32, ty: i32, protocol: i32) -> i32;
    fn ptrace(request: i64, pid: i32, addr: usize, data: usize) -> i64;
    fn unshare(flags: i32) -> i32;
    fn mount(src: *const u8, target: *const u8, fstype: *const u8, flags: u64, data: usize) -> i32;
    fn fork() -> i32;
    fn pause() -> i32;
    fn __errno_location() -> *mut i32;
}

fn errno() -> i32 {
    unsafe { *__errno_location() }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let what = args.get(1).map(String::as_str).unwrap_or("");
    let arg = args.get(2).cloned().unwrap_or_default();
    let code = match what {
        "net" => match arg.parse::<std::net::SocketAddr>() {
            Ok(addr) => match std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_secs(2)) {
                Ok(_) => { println!("CONNECTED {addr}"); 0 }
                Err(e) => { println!("connect failed: {e}"); 1 }
            },
            Err(e) => { println!("bad address: {e}"); 2 }
        },
        "dns" => match std::net::ToSocketAddrs::to_socket_addrs(&(arg.as_str(), 80)) {
            Ok(mut it) => match it.next() { Some(a) => { println!("RESOLVED {a}"); 0 } None => { println!("no address"); 1 } },
            Err(e) => { println!("resolve failed: {e}"); 1 }
        },
        "read" => match std::fs::read_to_string(&arg) {
            Ok(s) => { println!("READ {s}"); 0 }
            Err(e) => { println!("read failed: {e}"); 1 }
        },
        "write" => match std::fs::write(&arg, b"smelt probe was here") {
            Ok(_) => { println!("WROTE {arg}"); 0 }
            Err(e) => { println!("write failed: {e}"); 1 }
        },
        "env" => match std::env::var(&arg) {
            Ok(v) => { println!("ENV {arg}={v}"); 0 }
            Err(_) => { println!("{arg} is not set"); 1 }
        },
        "procs" => {
            let mut n = 0;
            for e in std::fs::read_dir("/proc").map(|d| d.flatten().collect::<Vec<_>>()).unwrap_or_default() {
                let name = e.file_name().to_string_lossy().to_string();
                if name.chars().all(|c| c.is_ascii_digit()) {
                    n += 1;
                    let cmd = std::fs::read(format!("/proc/{name}/cmdline")).unwrap_or_default();
                    println!("{name}: {}", String::from_utf8_lossy(&cmd).replace('\0', " "));
                }
            }
            println!("PROCESSES {n}");
            0
        }
        "forkbomb" => {
            let mut made = 0u32;
            let mut failures = 0u32;
            while made < 10_000 && failures < 100 {
                let pid = unsafe { fork() };
                if pid == 0 { unsafe { pause(); } std::process::exit(0); }
                if pid < 0 { failures += 1; } else { made += 1; }
            }
            println!("FORKED {made} failures {failures}");
            if failures == 0 { 0 } else { 1 }
        }
        "alloc" => {
            let mb: usize = arg.parse().unwrap_or(1024);
            let mut chunks: Vec<Vec<u8>> = Vec::new();
            for i in 0..mb / 16 {
                let mut v = Vec::new();
                if v.try_reserve_exact(16 << 20).is_err() { println!("allocation failed after {} MiB", i * 16); std::process::exit(1); }
                v.resize(16 << 20, (i % 251) as u8 + 1);
                chunks.push(v);
            }
            println!("ALLOCATED {} MiB", chunks.len() * 16);
            0
        }
        "fsize" => {
            let bytes: u64 = arg.parse().unwrap_or(8 << 20);
            let mut f = match std::fs::File::create("big.bin") { Ok(f) => f, Err(e) => { println!("create failed: {e}"); std::process::exit(1) } };
            let block = vec![7u8; 64 << 10];
            let mut written = 0u64;
            while written < bytes {
                match f.write(&block) { Ok(n) => written += n as u64, Err(e) => { println!("write failed after {written}: {e}"); std::process::exit(1) } }
            }
            println!("WROTE {written}");
            0
        }
        "seccomp" => {
            let mut blocked = 0;
            let s = unsafe { socket(2, 1, 0) };
            if s < 0 { println!("socket(AF_INET): errno {}", errno()); blocked += 1 } else { println!("socket(AF_INET) allowed") }
            let s6 = unsafe { socket(10, 2, 0) };
            if s6 < 0 { println!("socket(AF_INET6): errno {}", errno()); blocked += 1 } else { println!("socket(AF_INET6) allowed") }
            let u = unsafe { socket(1, 1, 0) };
            if u >= 0 { println!("socket(AF_UNIX) allowed (expected)"); blocked += 1 } else { println!("socket(AF_UNIX) refused: errno {}", errno()) }
            if unsafe { ptrace(0, 0, 0, 0) } < 0 { println!("ptrace: errno {}", errno()); blocked += 1 } else { println!("ptrace allowed") }
            if unsafe { unshare(0x10000000) } < 0 { println!("unshare(CLONE_NEWUSER): errno {}", errno()); blocked += 1 } else { println!("unshare allowed") }
            if unsafe { mount(b"none\0".as_ptr(), b"/tmp\0".as_ptr(), b"tmpfs\0".as_ptr(), 0, 0) } < 0 { println!("mount: errno {}", errno()); blocked += 1 } else { println!("mount allowed") }
            let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
            let mode = status.lines().find(|l| l.starts_with("Seccomp:")).unwrap_or("Seccomp: ?").to_string();
            println!("{mode}");
            if blocked == 6 && mode.ends_with('2') { println!("SECCOMP-OK"); 0 } else { 1 }
        }
        _ => { eprintln!("usage: probe net|dns|read|write|env|procs|forkbomb|alloc|fsize|seccomp ARG"); 2 }
    };
    let _ = std::io::stdout().flush();
    std::process::exit(code);
}
