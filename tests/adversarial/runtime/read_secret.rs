// Reads a secret file the test planted outside the allow-list, and a few well-known ones.
pub fn main() {
    let planted = super::common::target();
    let mut got = Vec::new();
    for p in [planted.as_str(), "/etc/shadow", "/root/.ssh/id_rsa", "/root/.bash_history", "/proc/1/environ"] {
        match std::fs::read_to_string(p) { Ok(s) => { println!("{p}: {s}"); if p == planted { got.push(p.to_string()) } } Err(e) => println!("{p}: {e}") }
    }
    if got.is_empty() { super::common::blocked("planted secret unreadable") } else { super::common::pwned("read the planted secret") }
}
