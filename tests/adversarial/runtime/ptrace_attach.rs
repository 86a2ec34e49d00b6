// Attaches to its parent with ptrace (and tries PTRACE_TRACEME).
pub fn main() {
    let ppid = unsafe { super::common::getppid() };
    let attach = unsafe { super::common::ptrace(16, ppid, 0, 0) }; // PTRACE_ATTACH
    let traceme = unsafe { super::common::ptrace(0, 0, 0, 0) }; // PTRACE_TRACEME
    println!("attach({ppid})={attach} traceme={traceme}");
    if attach == 0 || traceme == 0 { super::common::pwned("ptrace allowed") } else { super::common::blocked("ptrace refused") }
}
