// Prints 1 GiB to stdout.
use std::io::Write;
pub fn main() {
    let line = vec![b'x'; 1 << 16];
    let mut out = std::io::stdout().lock();
    for _ in 0..(1 << 14) { if out.write_all(&line).is_err() { super::common::blocked("stdout closed") } }
    super::common::pwned("printed 1 GiB")
}
