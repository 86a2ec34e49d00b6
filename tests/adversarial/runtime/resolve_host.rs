// Resolves a public host name (DNS exfiltration needs nothing more).
use std::net::ToSocketAddrs;
pub fn main() {
    match ("example.com", 443).to_socket_addrs() {
        Ok(it) => match it.count() { 0 => super::common::blocked("no addresses"), _ => super::common::pwned("resolved example.com") },
        Err(e) => super::common::blocked(&format!("resolve: {e}")),
    }
}
