//! Downloading an image archive a customer names by its address.
//!
//! The host that downloads sits next to machines a customer must not reach through it: the
//! cloud's metadata service at 169.254.169.254, the panel's database, an intranet. Unless the
//! policy allows private addresses, every address a name resolves to, at every redirect, must
//! be on the public internet, and the connection goes to an address that was checked (no proxy
//! from the environment, no second lookup). The body is handed on as a stream; how much of it
//! is read is bounded by the reader (`unpack::Limits::max_archive_bytes`).

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use ureq::config::Config;
use ureq::http::{StatusCode, Uri};
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{DefaultConnector, NextTimeout};

use crate::domain::image_source::FetchUrl;
use crate::host::HostError;

#[derive(Debug, Clone)]
pub struct FetchPolicy {
    /// Fetch from loopback, private and link-local addresses too: a demo on a laptop.
    pub allow_private: bool,
    /// The longest wait for a name lookup, a connection, the response, or any single read.
    pub timeout: Duration,
    /// Redirects followed before giving up.
    pub max_redirects: u32,
    /// The longest a whole download may take, so a server dripping a byte at a time cannot
    /// hold a job slot for ever.
    pub deadline: Duration,
}

impl Default for FetchPolicy {
    fn default() -> Self {
        Self {
            allow_private: false,
            timeout: Duration::from_secs(30),
            max_redirects: 5,
            deadline: Duration::from_secs(2 * 3600),
        }
    }
}

/// Opens downloads under a [`FetchPolicy`]. Cheap to share: connections are pooled inside.
pub struct Fetcher {
    agent: ureq::Agent,
    policy: FetchPolicy,
}

impl std::fmt::Debug for Fetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fetcher")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl Fetcher {
    pub fn new(policy: FetchPolicy) -> Self {
        Self::guarded_by(
            policy.clone(),
            AddressGuard {
                allow_private: policy.allow_private,
                exempt: None,
            },
        )
    }

    fn guarded_by(policy: FetchPolicy, guard: AddressGuard) -> Self {
        let timeout = Some(policy.timeout);
        let config = Config::builder()
            .proxy(None)
            .http_status_as_error(false)
            .max_redirects(policy.max_redirects)
            .user_agent(concat!("distropanel/", env!("CARGO_PKG_VERSION")))
            .timeout_resolve(timeout)
            .timeout_connect(timeout)
            .timeout_send_request(timeout)
            .timeout_recv_response(timeout)
            .timeout_per_read(timeout)
            .timeout_per_write(timeout)
            .timeout_global(Some(policy.deadline))
            .build();
        let agent = ureq::Agent::with_parts(config, DefaultConnector::default(), guard);
        Self { agent, policy }
    }

    pub fn policy(&self) -> &FetchPolicy {
        &self.policy
    }

    /// Starts the download of `url` and hands back its body, read as it arrives, with the
    /// length the server announced (none for a chunked answer).
    pub fn open(
        &self,
        url: &FetchUrl,
    ) -> Result<(Box<dyn io::Read + Send>, Option<u64>), HostError> {
        let response = self
            .agent
            .get(url.as_str())
            .call()
            .map_err(|e| self.explain(url, e))?;
        let status = response.status();
        if !status.is_success() {
            return Err(unwanted_status(url, status));
        }
        // the wire's length: nothing decompresses the body on the way
        let size = response.body().content_length();
        Ok((Box::new(response.into_body().into_reader()), size))
    }

    /// What went wrong, as a refusal when trying again cannot help.
    fn explain(&self, url: &FetchUrl, error: ureq::Error) -> HostError {
        match error {
            ureq::Error::Other(inner) => match inner.downcast::<NotPublic>() {
                Ok(not_public) => HostError::refused(url, not_public.explain(url)),
                Err(other) => HostError::io(url, io::Error::other(other)),
            },
            ureq::Error::Io(e) => HostError::io(url, e),
            ureq::Error::Timeout(during) => HostError::io(
                url,
                io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "the server did not answer within {} s ({during})",
                        self.policy.timeout.as_secs_f32()
                    ),
                ),
            ),
            ureq::Error::HostNotFound => HostError::io(
                url,
                io::Error::new(io::ErrorKind::NotFound, "the host name was not found"),
            ),
            ureq::Error::BadUri(_) | ureq::Error::Http(_) => HostError::refused(
                url,
                format!("the address cannot be fetched ({error}); check it"),
            ),
            ureq::Error::TooManyRedirects | ureq::Error::RedirectFailed => HostError::refused(
                url,
                format!(
                    "the server redirected more than {} times; give the address the archive finally comes from",
                    self.policy.max_redirects
                ),
            ),
            other => HostError::io(url, io::Error::other(other.to_string())),
        }
    }
}

/// A status other than 2xx: the server's errors and "slow down" are worth a retry, the
/// rest of the 4xx will answer the same next time.
fn unwanted_status(url: &FetchUrl, status: StatusCode) -> HostError {
    let answered = match status.canonical_reason() {
        Some(reason) => format!("the server answered {} {reason}", status.as_u16()),
        None => format!("the server answered {}", status.as_u16()),
    };
    match status.as_u16() {
        408 | 429 | 500..=599 => HostError::io(url, io::Error::other(answered)),
        400..=499 => HostError::refused(url, format!("{answered}; check the address")),
        _ => HostError::refused(
            url,
            format!("{answered}, not an archive; give the address of the archive itself"),
        ),
    }
}

/// A lookup that found only addresses the policy refuses.
#[derive(Debug, thiserror::Error)]
#[error("{host}:{port} is not a public address")]
struct NotPublic {
    host: String,
    port: u16,
    addresses: Vec<IpAddr>,
}

impl NotPublic {
    fn explain(&self, asked: &FetchUrl) -> String {
        let listed = self
            .addresses
            .iter()
            .map(IpAddr::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        let redirected = url::Url::parse(asked.as_str()).is_ok_and(|url| {
            url.host_str() != Some(self.host.as_str())
                || url.port_or_known_default() != Some(self.port)
        });
        let subject = if redirected {
            format!(
                "the server redirected to {}:{}, which",
                self.host, self.port
            )
        } else {
            self.host.clone()
        };
        let bare_host = self.host.trim_start_matches('[').trim_end_matches(']');
        let what = if bare_host.parse::<IpAddr>().is_ok() {
            format!("{subject} is not a public internet address")
        } else {
            format!("{subject} resolves to {listed}, not a public internet address")
        };
        format!("{what}; images are fetched only from the public internet")
    }
}

/// The resolver every connection goes through, first request and redirects alike: it keeps
/// only the addresses the policy allows.
#[derive(Debug)]
struct AddressGuard {
    allow_private: bool,
    /// One more address let through: how tests reach a server on 127.0.0.1 before a redirect.
    exempt: Option<SocketAddr>,
}

impl AddressGuard {
    fn allows(&self, address: SocketAddr) -> bool {
        self.allow_private || is_public(address.ip()) || self.exempt == Some(address)
    }
}

impl Resolver for AddressGuard {
    fn resolve(
        &self,
        uri: &Uri,
        config: &Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let found = DefaultResolver::default().resolve(uri, config, timeout)?;
        let mut kept = self.empty();
        for address in found.iter().filter(|a| self.allows(**a)) {
            kept.push(*address);
        }
        if !kept.is_empty() {
            return Ok(kept);
        }
        let port = found.first().map_or(0, SocketAddr::port);
        Err(ureq::Error::Other(Box::new(NotPublic {
            host: uri.host().unwrap_or_default().to_owned(),
            port,
            addresses: found.iter().map(SocketAddr::ip).collect(),
        })))
    }
}

/// Whether `ip` is reachable on the public internet, as opposed to this host, its networks,
/// or address space set aside for other uses.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

/// IPv4 blocks that are not the public internet (IANA special-purpose registry).
const NOT_PUBLIC_V4: &[(Ipv4Addr, u32)] = &[
    (Ipv4Addr::new(0, 0, 0, 0), 8),       // "this network", unspecified
    (Ipv4Addr::new(10, 0, 0, 0), 8),      // private
    (Ipv4Addr::new(100, 64, 0, 0), 10),   // carrier-grade NAT
    (Ipv4Addr::new(127, 0, 0, 0), 8),     // loopback
    (Ipv4Addr::new(169, 254, 0, 0), 16),  // link-local: cloud metadata lives here
    (Ipv4Addr::new(172, 16, 0, 0), 12),   // private
    (Ipv4Addr::new(192, 0, 0, 0), 24),    // IETF protocol assignments
    (Ipv4Addr::new(192, 0, 2, 0), 24),    // documentation
    (Ipv4Addr::new(192, 88, 99, 0), 24),  // 6to4 relays
    (Ipv4Addr::new(192, 168, 0, 0), 16),  // private
    (Ipv4Addr::new(198, 18, 0, 0), 15),   // benchmarking
    (Ipv4Addr::new(198, 51, 100, 0), 24), // documentation
    (Ipv4Addr::new(203, 0, 113, 0), 24),  // documentation
    (Ipv4Addr::new(224, 0, 0, 0), 4),     // multicast
    (Ipv4Addr::new(240, 0, 0, 0), 4),     // reserved, broadcast
];

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let bits = ip.to_bits();
    !NOT_PUBLIC_V4.iter().any(|(net, len)| {
        let mask = u32::MAX << (32 - len);
        bits & mask == net.to_bits()
    })
}

/// IPv6 blocks inside global unicast (2000::/3) that are not the public internet.
const NOT_PUBLIC_V6: &[(Ipv6Addr, u32)] = &[
    (Ipv6Addr::new(0x2001, 0, 0, 0, 0, 0, 0, 0), 23), // IETF protocol assignments, Teredo
    (Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0), 32), // documentation
    (Ipv6Addr::new(0x3fff, 0, 0, 0, 0, 0, 0, 0), 20), // documentation
];

fn in_v6_block(ip: Ipv6Addr, net: Ipv6Addr, len: u32) -> bool {
    let mask = u128::MAX << (128 - len);
    ip.to_bits() & mask == net.to_bits()
}

/// The IPv4 address an IPv6 form leads to: IPv4-mapped (`::ffff:a.b.c.d`), NAT64
/// (`64:ff9b::a.b.c.d`) and 6to4 (`2002:aabb:ccdd::/48`).
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return Some(v4);
    }
    let low = Ipv4Addr::from_bits(ip.to_bits() as u32);
    if in_v6_block(ip, Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0, 0), 96) {
        return Some(low);
    }
    if in_v6_block(ip, Ipv6Addr::new(0x2002, 0, 0, 0, 0, 0, 0, 0), 16) {
        return Some(Ipv4Addr::from_bits((ip.to_bits() >> 80) as u32));
    }
    None
}

/// Only global unicast counts; everything outside 2000::/3 (loopback, unspecified,
/// unique-local fc00::/7, link-local fe80::/10, multicast, ...) is not the public internet.
fn is_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = embedded_v4(ip) {
        return is_public_v4(v4);
    }
    in_v6_block(ip, Ipv6Addr::new(0x2000, 0, 0, 0, 0, 0, 0, 0), 3)
        && !NOT_PUBLIC_V6
            .iter()
            .any(|(net, len)| in_v6_block(ip, *net, *len))
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::thread;

    use super::*;

    #[test]
    fn only_the_public_internet_is_public() {
        for (ip, public) in [
            ("1.1.1.1", true),
            ("93.184.215.14", true),
            ("100.63.255.255", true),
            ("100.128.0.0", true),
            ("172.32.0.1", true),
            ("223.255.255.255", true),
            ("0.0.0.0", false),
            ("127.0.0.1", false),
            ("127.255.255.254", false),
            ("10.1.2.3", false),
            ("172.16.0.1", false),
            ("172.31.255.255", false),
            ("192.168.1.1", false),
            ("100.64.0.1", false),
            ("100.127.255.255", false),
            ("169.254.169.254", false),
            ("192.0.0.8", false),
            ("192.0.2.1", false),
            ("198.18.0.1", false),
            ("198.51.100.7", false),
            ("203.0.113.9", false),
            ("224.0.0.1", false),
            ("239.255.255.250", false),
            ("255.255.255.255", false),
            ("2606:4700:4700::1111", true),
            ("2a00:1450:4001:82b::200e", true),
            ("::", false),
            ("::1", false),
            ("fe80::1", false),
            ("fc00::1", false),
            ("fd12:3456::1", false),
            ("fec0::1", false),
            ("ff02::1", false),
            ("2001:db8::1", false),
            ("2001::1", false),
            ("3fff::1", false),
            ("100::1", false),
            ("::ffff:127.0.0.1", false),
            ("::ffff:169.254.169.254", false),
            ("::ffff:10.0.0.1", false),
            ("::ffff:1.1.1.1", true),
            ("::127.0.0.1", false),
            ("64:ff9b::7f00:1", false),
            ("64:ff9b::101:101", true),
            ("2002:7f00:1::1", false),
            ("2002:a9fe:a9fe::1", false),
            ("2002:101:101::1", true),
        ] {
            let parsed: IpAddr = ip.parse().unwrap();
            assert_eq!(is_public(parsed), public, "{ip}");
        }
    }

    /// What a test server answers.
    fn answer(status: &str, headers: &str, body: &[u8]) -> Vec<u8> {
        let mut bytes = format!(
            "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n{headers}\r\n",
            body.len()
        )
        .into_bytes();
        bytes.extend_from_slice(body);
        bytes
    }

    fn read_request(stream: &TcpStream) {
        let mut lines = BufReader::new(stream);
        let mut line = String::new();
        while lines.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
            line.clear();
        }
    }

    /// Answers every request to `listener` with the same bytes.
    fn serve_on(listener: TcpListener, response: Vec<u8>) {
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                read_request(&stream);
                let _ = stream.write_all(&response);
            }
        });
    }

    /// A server on 127.0.0.1 answering every request with the same bytes.
    fn serve(response: Vec<u8>) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        serve_on(listener, response);
        address
    }

    fn url(address: SocketAddr, path: &str) -> FetchUrl {
        FetchUrl::parse(&format!("http://{address}{path}")).unwrap()
    }

    fn quick(allow_private: bool) -> FetchPolicy {
        FetchPolicy {
            allow_private,
            timeout: Duration::from_secs(5),
            max_redirects: 5,
            deadline: Duration::from_secs(60),
        }
    }

    fn fetch(fetcher: &Fetcher, url: &FetchUrl) -> Result<Vec<u8>, HostError> {
        let mut body = Vec::new();
        fetcher
            .open(url)?
            .0
            .read_to_end(&mut body)
            .map_err(|e| HostError::io(url, e))?;
        Ok(body)
    }

    #[test]
    fn a_found_archive_streams_through() {
        let archive: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        let server = serve(answer("200 OK", "", &archive));
        let fetcher = Fetcher::new(quick(true));
        assert_eq!(fetch(&fetcher, &url(server, "/a.tar")).unwrap(), archive);
    }

    #[test]
    fn loopback_is_refused_unless_private_addresses_are_allowed() {
        let server = serve(answer("200 OK", "", b"secret"));
        let refused = fetch(&Fetcher::new(quick(false)), &url(server, "/a.tar")).unwrap_err();
        assert!(refused.is_permanent(), "{refused}");
        assert!(
            refused
                .to_string()
                .contains("127.0.0.1 is not a public internet address"),
            "{refused}"
        );
        let localhost = FetchUrl::parse(&format!("http://localhost:{}/a", server.port())).unwrap();
        let refused = fetch(&Fetcher::new(quick(false)), &localhost).unwrap_err();
        assert!(refused.is_permanent(), "{refused}");
        assert!(
            refused.to_string().contains("localhost resolves to"),
            "{refused}"
        );
    }

    #[test]
    fn a_missing_archive_is_permanent_and_a_busy_server_is_worth_a_retry() {
        let fetcher = Fetcher::new(quick(true));
        let missing = url(serve(answer("404 Not Found", "", b"no")), "/gone.tar");
        let refused = fetch(&fetcher, &missing).unwrap_err();
        assert!(refused.is_permanent(), "{refused}");
        assert_eq!(
            refused.to_string(),
            format!("{missing}: the server answered 404 Not Found; check the address")
        );
        let busy = url(serve(answer("503 Service Unavailable", "", b"")), "/a.tar");
        let failed = fetch(&fetcher, &busy).unwrap_err();
        assert!(!failed.is_permanent(), "{failed}");
        assert!(
            failed.to_string().contains("503 Service Unavailable"),
            "{failed}"
        );
    }

    #[test]
    fn a_closed_port_and_a_silent_server_are_worth_a_retry() {
        let closed = {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap()
        };
        let fetcher = Fetcher::new(FetchPolicy {
            timeout: Duration::from_millis(300),
            ..quick(true)
        });
        let failed = fetch(&fetcher, &url(closed, "/a.tar")).unwrap_err();
        assert!(matches!(failed, HostError::Io { .. }), "{failed}");

        let silent = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = silent.local_addr().unwrap();
        thread::spawn(move || {
            let held: Vec<TcpStream> = silent.incoming().take(1).flatten().collect();
            thread::sleep(Duration::from_secs(3));
            drop(held);
        });
        let failed = fetch(&fetcher, &url(address, "/a.tar")).unwrap_err();
        assert!(matches!(failed, HostError::Io { .. }), "{failed}");
        assert!(
            failed.to_string().contains("did not answer within 0.3 s"),
            "{failed}"
        );
    }

    #[test]
    fn a_server_dripping_its_body_runs_into_the_deadline() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        thread::spawn(move || {
            let Some(Ok(mut stream)) = listener.incoming().next() else {
                return;
            };
            read_request(&stream);
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n");
            for _ in 0..1000 {
                if stream.write_all(b"x").is_err() {
                    return;
                }
                thread::sleep(Duration::from_millis(50));
            }
        });
        let fetcher = Fetcher::new(FetchPolicy {
            deadline: Duration::from_millis(700),
            ..quick(true)
        });
        let started = std::time::Instant::now();
        let failed = fetch(&fetcher, &url(address, "/a.tar")).unwrap_err();
        assert!(matches!(failed, HostError::Io { .. }), "{failed}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "every read was quick, the whole was not"
        );
    }

    #[test]
    fn a_fetcher_can_be_shared_by_worker_threads() {
        fn shared<T: Send + Sync>(_: &T) {}
        shared(&Fetcher::new(FetchPolicy::default()));
    }

    /// A server that redirects to another port of 127.0.0.1, where a listener only tells
    /// whether anyone connected.
    fn redirect_to_unserved() -> (SocketAddr, TcpListener) {
        let target = TcpListener::bind("127.0.0.1:0").unwrap();
        let location = format!(
            "Location: http://{}/elsewhere.tar\r\n",
            target.local_addr().unwrap()
        );
        (serve(answer("302 Found", &location, b"")), target)
    }

    #[test]
    fn a_redirect_to_a_private_address_is_refused() {
        let (first, target) = redirect_to_unserved();
        let fetcher = Fetcher::guarded_by(
            quick(false),
            AddressGuard {
                allow_private: false,
                exempt: Some(first),
            },
        );
        let refused = fetch(&fetcher, &url(first, "/a.tar")).unwrap_err();
        assert!(refused.is_permanent(), "{refused}");
        let said = refused.to_string();
        assert!(
            said.contains(&format!(
                "the server redirected to 127.0.0.1:{}, which is not a public internet address",
                target.local_addr().unwrap().port()
            )),
            "{said}"
        );
        target.set_nonblocking(true).unwrap();
        assert!(target.accept().is_err(), "nothing connected to the target");
    }

    #[test]
    fn a_redirect_is_followed_where_private_addresses_are_allowed() {
        let archive = serve(answer("200 OK", "", b"the archive"));
        let location = format!("Location: http://{archive}/real.tar\r\n");
        let first = serve(answer("302 Found", &location, b""));
        let body = fetch(&Fetcher::new(quick(true)), &url(first, "/a.tar")).unwrap();
        assert_eq!(body, b"the archive");
    }

    #[test]
    fn endless_redirects_are_permanent() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let itself = format!("Location: http://{address}/again.tar\r\n");
        serve_on(listener, answer("302 Found", &itself, b""));
        let refused = fetch(&Fetcher::new(quick(true)), &url(address, "/a.tar")).unwrap_err();
        assert!(refused.is_permanent(), "{refused}");
        assert!(
            refused.to_string().contains("more than 5 times"),
            "{refused}"
        );
    }
}
