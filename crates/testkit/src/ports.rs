//! Ports for test peers on loopback, and ports where nothing answers.
//!
//! What this module owns:
//! - [`free_udp_port`] and [`free_tcp_port`]: a port for a peer to bind, picked **below the
//!   kernel's ephemeral range**, so no client socket of a concurrent test can be handed it
//!   between the pick and the peer's bind.
//! - [`ClosedTcpPort`]: a TCP port that is bound but never listens, held for as long as
//!   the guard lives: a connection to it is refused every time, and nobody else can bind
//!   it meanwhile. [`SilentUdpPort`]: a UDP port held by a socket that never reads, so a
//!   request to it is never answered.
//! - [`process_holds_udp_port`]: whether a peer process really bound its port.
//!
//! Invariants: every socket here is on loopback; the "nothing answers" guards keep their
//! socket until dropped, so a test's closed port cannot be taken by a peer another test
//! starts at the same moment (a port that was only free once can be).

use std::net::{Ipv4Addr, SocketAddr, TcpListener, UdpSocket};

/// A free UDP port on 127.0.0.1, chosen **below the kernel's ephemeral range**.
///
/// Ports from `bind(:0)` come from the ephemeral range, where every client socket of a
/// concurrent test also gets its port: one of them can take the port between this call
/// and the peer's bind. snmpsim (pysnmp on asyncio) does not even notice a failed bind:
/// it logs "Listening at" and never answers. Ports below the range are never handed
/// out implicitly, so only another explicit pick can collide, and each pick starts at a
/// random place in the range.
/// Falls back to `bind(:0)` when the range starts too low to leave room below it.
pub fn free_udp_port() -> u16 {
    low_port(|port| UdpSocket::bind(("0.0.0.0", port)).is_ok()).unwrap_or_else(|| {
        UdpSocket::bind("127.0.0.1:0")
            .and_then(|s| s.local_addr())
            .expect("bind a UDP socket on 127.0.0.1:0")
            .port()
    })
}

/// A free TCP port on 127.0.0.1, picked below the kernel's ephemeral range for the same
/// reason as [`free_udp_port`]: a client connection of a concurrent test gets its local
/// port from that range, and can take a port picked there before the peer binds it.
pub fn free_tcp_port() -> u16 {
    low_port(|port| TcpListener::bind(("0.0.0.0", port)).is_ok()).unwrap_or_else(|| {
        TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("bind a TCP socket on 127.0.0.1:0")
            .port()
    })
}

/// A port between 10000 and the start of the ephemeral range for which `is_free` holds,
/// starting at a random place and stepping through the range; `None` when the range
/// starts too low to leave room below it, or nothing free was found in 200 tries.
fn low_port(is_free: impl Fn(u16) -> bool) -> Option<u16> {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    const LOW: u32 = 10_000;
    let range_start = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u32>().ok())
        .unwrap_or(32_768);
    if range_start <= LOW + 1_000 {
        return None;
    }
    let span = range_start - LOW;
    let seed = std::process::id().wrapping_mul(7_919)
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
    (0..200).find_map(|_| {
        let step = NEXT.fetch_add(1, Ordering::Relaxed);
        let offset = seed.wrapping_add(step.wrapping_mul(97)) % span;
        // Free on the wildcard address too, so neither an any-address nor a loopback
        // bind by someone else is in the way.
        u16::try_from(LOW + offset).ok().filter(|&p| is_free(p))
    })
}

/// A TCP port on 127.0.0.1 that is bound but does not listen, for as long as this guard
/// lives. A connection to it is refused (RST) every time; no other socket can bind it
/// (ours has no `SO_REUSEADDR`), and the kernel does not hand a bound port out to
/// connecting clients. Use it where a test needs "nothing listens there".
#[derive(Debug)]
pub struct ClosedTcpPort {
    _socket: socket2::Socket,
    ip: Ipv4Addr,
    port: u16,
}

impl ClosedTcpPort {
    /// Binds a fresh port on 127.0.0.1 without listening.
    ///
    /// # Panics
    /// When no TCP socket can be bound on loopback.
    pub fn new() -> Self {
        Self::on(Ipv4Addr::LOCALHOST)
    }

    /// Binds a fresh port on loopback address `ip` without listening.
    ///
    /// # Panics
    /// When `ip` is not a loopback address, or no TCP socket can be bound there.
    pub fn on(ip: Ipv4Addr) -> Self {
        use socket2::{Domain, Socket, Type};
        assert!(
            ip.is_loopback(),
            "test ports are on loopback only, not {ip}"
        );
        let socket = Socket::new(Domain::IPV4, Type::STREAM, None).expect("a TCP socket");
        let any: SocketAddr = (ip, 0).into();
        socket
            .bind(&any.into())
            .unwrap_or_else(|e| panic!("bind a TCP socket on {ip}:0: {e}"));
        let port = socket
            .local_addr()
            .ok()
            .and_then(|a| a.as_socket())
            .map(|a| a.port())
            .expect("local address of a bound TCP socket");
        Self {
            _socket: socket,
            ip,
            port,
        }
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `<ip>:<port>`.
    pub fn addr(&self) -> SocketAddr {
        (self.ip, self.port).into()
    }
}

impl Default for ClosedTcpPort {
    fn default() -> Self {
        Self::new()
    }
}

/// A UDP port on 127.0.0.1 held by a socket that never reads, for as long as this guard
/// lives: a request sent there is queued and never answered (no ICMP "port unreachable"
/// either), and no peer can bind the port meanwhile.
#[derive(Debug)]
pub struct SilentUdpPort {
    _socket: UdpSocket,
    port: u16,
}

impl SilentUdpPort {
    /// Binds a fresh UDP port on 127.0.0.1.
    ///
    /// # Panics
    /// When no UDP socket can be bound on loopback.
    pub fn new() -> Self {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind a UDP socket on 127.0.0.1:0");
        let port = socket
            .local_addr()
            .expect("local address of a bound UDP socket")
            .port();
        Self {
            _socket: socket,
            port,
        }
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:<port>`.
    pub fn addr(&self) -> SocketAddr {
        ([127, 0, 0, 1], self.port).into()
    }
}

impl Default for SilentUdpPort {
    fn default() -> Self {
        Self::new()
    }
}

/// Whether process `pid` holds a UDP socket bound to local `port` (IPv4 or IPv6), read
/// from `/proc`. `None` when `/proc` cannot tell (not Linux, or the process is gone).
pub fn process_holds_udp_port(pid: u32, port: u16) -> Option<bool> {
    let fd_dir = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?;
    let inodes: std::collections::HashSet<String> = fd_dir
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter_map(|target| {
            let t = target.to_string_lossy().into_owned();
            t.strip_prefix("socket:[")?
                .strip_suffix(']')
                .map(str::to_owned)
        })
        .collect();
    let wanted = format!(":{port:04X}");
    let mut any_table = false;
    for table in ["/proc/net/udp", "/proc/net/udp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        any_table = true;
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.len() > 9 && fields[1].ends_with(&wanted) && inodes.contains(fields[9]) {
                return Some(true);
            }
        }
    }
    any_table.then_some(false)
}
#[cfg(test)]
mod tests {
    use super::*;
    use std::io::ErrorKind;
    use std::net::TcpStream;
    use std::time::Duration;

    #[test]
    fn free_udp_port_returns_a_bindable_loopback_port() {
        let port = free_udp_port();
        assert_ne!(port, 0);
        UdpSocket::bind(("127.0.0.1", port)).expect("the port is free right after");
    }

    #[test]
    fn free_ports_stay_below_the_ephemeral_range_and_differ_within_a_process() {
        let (a, b) = (free_udp_port(), free_udp_port());
        assert_ne!(a, b);
        assert!(a < 32_768 && b < 32_768, "{a} {b}");
        let (c, d) = (free_tcp_port(), free_tcp_port());
        assert_ne!(c, d);
        assert!(c < 32_768 && d < 32_768, "{c} {d}");
        TcpListener::bind(("127.0.0.1", c)).expect("the port is free right after");
    }

    #[test]
    fn a_closed_tcp_port_refuses_every_connection_and_cannot_be_taken() {
        let closed = ClosedTcpPort::new();
        for _ in 0..3 {
            let e = TcpStream::connect_timeout(&closed.addr(), Duration::from_secs(2))
                .expect_err("nothing listens");
            assert_eq!(e.kind(), ErrorKind::ConnectionRefused, "{e}");
        }
        assert!(
            TcpListener::bind(closed.addr()).is_err(),
            "a listener with SO_REUSEADDR cannot take a held port"
        );
    }

    #[test]
    fn a_silent_udp_port_never_answers() {
        let silent = SilentUdpPort::new();
        let client = UdpSocket::bind("127.0.0.1:0").expect("bind");
        client
            .set_read_timeout(Some(Duration::from_millis(200)))
            .expect("timeout");
        client.send_to(b"hello", silent.addr()).expect("send");
        let mut buf = [0u8; 16];
        assert!(
            client.recv_from(&mut buf).is_err(),
            "no answer, no ICMP error"
        );
        assert!(UdpSocket::bind(silent.addr()).is_err(), "the port is held");
    }

    #[test]
    fn proc_tells_which_udp_ports_this_process_holds() {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
        let port = socket.local_addr().expect("addr").port();
        assert_eq!(process_holds_udp_port(std::process::id(), port), Some(true));
        assert_eq!(
            process_holds_udp_port(std::process::id(), free_udp_port()),
            Some(false)
        );
    }
}
