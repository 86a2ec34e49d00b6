// Tries to create files outside its work directory: a host directory the test made, /etc, /usr, root's home.
pub fn main() {
    let host_dir = super::common::target();
    let mut wrote = Vec::new();
    for p in [format!("{host_dir}/pwned.txt"), "/etc/smelt-pwned".into(), "/usr/smelt-pwned".into(), "/root/smelt-pwned".into(), "/smelt-pwned".into()] {
        match std::fs::write(&p, b"pwned") { Ok(_) => wrote.push(p), Err(e) => println!("{p}: {e}") }
    }
    if wrote.is_empty() { super::common::blocked("every write failed") } else { super::common::pwned(&format!("wrote {wrote:?}")) }
}
