// Kills its parent, then everything it may signal (kill -1), then keeps running.
pub fn main() {
    let ppid = unsafe { super::common::getppid() };
    let a = unsafe { super::common::kill(ppid, 9) };
    let b = unsafe { super::common::kill(-1, 9) };
    let c = unsafe { super::common::kill(1, 9) };
    println!("kill(ppid={ppid})={a} kill(-1)={b} kill(1)={c}");
    loop { std::thread::sleep(std::time::Duration::from_secs(60)); }
}
