//! The forwarder from the host's 127.0.0.1 into the node's network namespace, where the API server
//! listens: a thread of the test process, or a detached `xtask` process.

use std::fs;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Connects to `target` from inside the network namespace `netns` (a /proc/PID/ns/net path). Only
/// this thread enters the namespace, and only for the connect: the socket stays in it.
pub fn connect_in(netns: &Path, target: SocketAddr) -> io::Result<TcpStream> {
    let host = fs::File::open("/proc/thread-self/ns/net")?;
    let node = fs::File::open(netns)?;
    // SAFETY: setns on valid namespace fds; it changes this thread's network namespace only.
    if unsafe { libc::setns(node.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let result = TcpStream::connect_timeout(&target, Duration::from_secs(5));
    // SAFETY: as above; back to where the thread came from.
    if unsafe { libc::setns(host.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        return Err(io::Error::last_os_error());
    }
    result
}

fn pipe(mut from: TcpStream, mut to: TcpStream) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

/// Serves `listener` (on the host) by connecting each client to `target` inside `netns`.
pub fn forward(listener: TcpListener, netns: PathBuf, target: SocketAddr) {
    for client in listener.incoming() {
        let Ok(client) = client else { continue };
        let netns = netns.clone();
        std::thread::spawn(move || {
            let Ok(upstream) = connect_in(&netns, target) else { return };
            let (Ok(client2), Ok(upstream2)) = (client.try_clone(), upstream.try_clone()) else { return };
            let back = std::thread::spawn(move || pipe(upstream2, client2));
            pipe(client, upstream);
            let _ = back.join();
        });
    }
}

/// How the API server is reached from the host.
pub enum Forwarder {
    /// A thread of this process (tests).
    Thread,
    /// A detached process: this program and arguments, to which `PORT NETNS TARGET` are appended;
    /// it must call [`forward`] (`xtask` does, for `cluster up --node`).
    Process(PathBuf, Vec<String>),
}
