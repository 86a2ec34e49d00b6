// Connects to a listener the test opened on the host's 127.0.0.1 and sends a message.
use std::io::Write;
pub fn main() {
    let addr = super::common::target();
    match std::net::TcpStream::connect(addr.as_str()) {
        Ok(mut s) => { let _ = s.write_all(b"PWNED"); super::common::pwned("connected to the host") }
        Err(e) => super::common::blocked(&format!("connect {addr}: {e}")),
    }
}
