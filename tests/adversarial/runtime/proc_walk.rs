// Walks /proc looking for another process's command line (the test starts a host process carrying a marker).
pub fn main() {
    let marker = super::common::target();
    let me = std::process::id().to_string();
    let mut seen = 0;
    for e in std::fs::read_dir("/proc").map(|d| d.flatten().collect::<Vec<_>>()).unwrap_or_default() {
        let name = e.file_name().to_string_lossy().to_string();
        if !name.chars().all(|c| c.is_ascii_digit()) || name == me { continue }
        seen += 1;
        let cmd = String::from_utf8_lossy(&std::fs::read(format!("/proc/{name}/cmdline")).unwrap_or_default()).replace('\0', " ");
        println!("{name}: {cmd}");
        if !marker.is_empty() && cmd.contains(&marker) { super::common::pwned("saw the host process") }
    }
    super::common::blocked(&format!("{seen} other processes visible, none of the host's"))
}
