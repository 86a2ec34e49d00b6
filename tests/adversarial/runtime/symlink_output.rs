// Replaces its result file with a symlink to a host file, hoping the host (or itself) writes through it.
pub fn main() {
    let victim = super::common::target();
    let _ = std::fs::remove_file("result.txt");
    if let Err(e) = std::os::unix::fs::symlink(&victim, "result.txt") { super::common::blocked(&format!("symlink: {e}")) }
    match std::fs::write("result.txt", b"PWNED through a symlink") {
        Ok(_) => match std::fs::read_to_string(&victim) {
            Ok(s) if s.contains("PWNED") => super::common::pwned("overwrote the victim"),
            _ => super::common::blocked("wrote, but not to the victim"),
        },
        Err(e) => super::common::blocked(&format!("write through symlink: {e}")),
    }
}
