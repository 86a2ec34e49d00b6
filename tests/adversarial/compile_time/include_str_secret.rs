// Reads a secret the test planted on the host, at compile time.
const SECRET: &str = include_str!("/var/tmp/smelt-adversarial-secret/secret.txt");
fn main() { println!("{SECRET}"); }
