// Shared by the runtime attacks (included, not a program).
#[allow(dead_code)]
pub fn target() -> String {
    std::fs::read_to_string("target.txt").unwrap_or_default().trim().to_string()
}

#[allow(dead_code)]
pub fn pwned(what: &str) -> ! {
    println!("PWNED: {what}");
    std::process::exit(0)
}

#[allow(dead_code)]
pub fn blocked(what: &str) -> ! {
    println!("blocked: {what}");
    std::process::exit(3)
}

extern "C" {
    pub fn fork() -> i32;
    pub fn getppid() -> i32;
    pub fn kill(pid: i32, sig: i32) -> i32;
    pub fn signal(sig: i32, handler: usize) -> usize;
    pub fn ptrace(request: i64, pid: i32, addr: usize, data: usize) -> i64;
    pub fn setsid() -> i32;
}
pub const SIG_IGN: usize = 1;
