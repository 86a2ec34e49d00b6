// Allocates and touches 8 GiB.
pub fn main() {
    let mut v: Vec<u8> = Vec::with_capacity(8 << 30);
    v.resize(8 << 30, 1);
    super::common::pwned(&format!("allocated {} bytes", v.len()))
}
