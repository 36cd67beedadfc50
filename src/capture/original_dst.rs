//! Where a redirected connection was going: the kernel keeps the destination that the capture
//! rules' REDIRECT replaced, and `SO_ORIGINAL_DST` (IPv4) / `IP6T_SO_ORIGINAL_DST` (IPv6) read it.

use std::io;
use std::net::SocketAddr;

use socket2::SockRef;
use tokio::net::TcpStream;

/// The destination `stream`'s peer originally connected to.
///
/// A connection that was not redirected answers with the listener's own address (so the caller
/// can tell the explicit-proxy mode by comparing). A dual-stack (`[::]`) listener sees an IPv4
/// peer as `::ffff:a.b.c.d`; for those only the IPv4 option answers, so the family is chosen by
/// the local address, mapped addresses counting as IPv4.
///
/// # Errors
///
/// The kernel's, e.g. `ENOENT` when conntrack knows nothing of the connection (no NAT module).
pub fn original_dst(stream: &TcpStream) -> io::Result<SocketAddr> {
    let local = stream.local_addr()?;
    let sock = SockRef::from(stream);
    let ipv4 = match local {
        SocketAddr::V4(_) => true,
        SocketAddr::V6(v6) => v6.ip().to_ipv4_mapped().is_some(),
    };
    let addr = if ipv4 {
        sock.original_dst_v4()?
    } else {
        sock.original_dst_v6()?
    };
    addr.as_socket().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            "the original destination is not an IP address",
        )
    })
}
