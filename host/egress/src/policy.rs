//! The address policy: which IP addresses an outbound request may reach.
//!
//! Default-deny for everything that is not a public unicast address: loopback, private and
//! shared (CGNAT) ranges, link-local, unique-local, multicast, unspecified, broadcast,
//! documentation and other reserved ranges, IPv6 forms that embed one of those IPv4 addresses,
//! and cloud metadata endpoints. The operator's allowlist (`GATEHOUSE_EGRESS_ALLOW`) opens
//! hosts and CIDRs; metadata addresses open only when listed exactly, so a broad CIDR such as
//! `169.254.0.0/16` does not expose instance credentials by accident.

use std::{
    fmt,
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

/// Why an address is refused. `Display` gives the adjective used in error messages
/// ("10.0.0.5 is a private address").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BlockReason {
    Loopback,
    Private,
    /// 100.64.0.0/10, carrier-grade NAT.
    SharedAddressSpace,
    LinkLocal,
    UniqueLocal,
    Multicast,
    Unspecified,
    Broadcast,
    Documentation,
    /// Special-purpose or deprecated ranges that never host a public endpoint.
    Reserved,
    CloudMetadata,
}

impl fmt::Display for BlockReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Loopback => "loopback",
            Self::Private => "private",
            Self::SharedAddressSpace => "shared (carrier-grade NAT)",
            Self::LinkLocal => "link-local",
            Self::UniqueLocal => "unique-local",
            Self::Multicast => "multicast",
            Self::Unspecified => "unspecified",
            Self::Broadcast => "broadcast",
            Self::Documentation => "documentation",
            Self::Reserved => "reserved",
            Self::CloudMetadata => "cloud metadata",
        })
    }
}

/// Instance metadata services (AWS, GCP, Azure, OpenStack, DigitalOcean: 169.254.169.254; AWS
/// ECS/EKS task credentials; Alibaba; Oracle; AWS IPv6). Checked before the range they sit in so
/// the error names the real danger.
const METADATA: &[IpAddr] = &[
    IpAddr::V4(Ipv4Addr::new(169, 254, 169, 254)),
    IpAddr::V4(Ipv4Addr::new(169, 254, 170, 2)),
    IpAddr::V4(Ipv4Addr::new(169, 254, 170, 23)),
    IpAddr::V4(Ipv4Addr::new(100, 100, 100, 200)),
    IpAddr::V4(Ipv4Addr::new(192, 0, 0, 192)),
    IpAddr::V6(Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254)),
    IpAddr::V6(Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x23)),
];

const fn v4(a: u8, b: u8, c: u8, d: u8, len: u8) -> Ipv4Net {
    Ipv4Net::new_assert(Ipv4Addr::new(a, b, c, d), len)
}

#[allow(clippy::too_many_arguments)]
const fn v6(s: [u16; 8], len: u8) -> Ipv6Net {
    Ipv6Net::new_assert(
        Ipv6Addr::new(s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]),
        len,
    )
}

/// IPv4 ranges in the order they are checked (first match wins).
const V4_BLOCKED: &[(Ipv4Net, BlockReason)] = &[
    (v4(255, 255, 255, 255, 32), BlockReason::Broadcast),
    (v4(0, 0, 0, 0, 8), BlockReason::Unspecified),
    (v4(127, 0, 0, 0, 8), BlockReason::Loopback),
    (v4(10, 0, 0, 0, 8), BlockReason::Private),
    (v4(172, 16, 0, 0, 12), BlockReason::Private),
    (v4(192, 168, 0, 0, 16), BlockReason::Private),
    (v4(100, 64, 0, 0, 10), BlockReason::SharedAddressSpace),
    (v4(169, 254, 0, 0, 16), BlockReason::LinkLocal),
    (v4(192, 0, 2, 0, 24), BlockReason::Documentation),
    (v4(198, 51, 100, 0, 24), BlockReason::Documentation),
    (v4(203, 0, 113, 0, 24), BlockReason::Documentation),
    (v4(224, 0, 0, 0, 4), BlockReason::Multicast),
    (v4(240, 0, 0, 0, 4), BlockReason::Reserved),
    (v4(192, 0, 0, 0, 24), BlockReason::Reserved),
    (v4(198, 18, 0, 0, 15), BlockReason::Reserved),
    (v4(192, 88, 99, 0, 24), BlockReason::Reserved),
];

/// IPv6 ranges that do not embed an IPv4 address, in check order.
const V6_BLOCKED: &[(Ipv6Net, BlockReason)] = &[
    (v6([0, 0, 0, 0, 0, 0, 0, 0], 128), BlockReason::Unspecified),
    (v6([0, 0, 0, 0, 0, 0, 0, 1], 128), BlockReason::Loopback),
    (
        v6([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10),
        BlockReason::LinkLocal,
    ),
    (v6([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10), BlockReason::Reserved),
    (
        v6([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7),
        BlockReason::UniqueLocal,
    ),
    (v6([0xff00, 0, 0, 0, 0, 0, 0, 0], 8), BlockReason::Multicast),
    (
        v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32),
        BlockReason::Documentation,
    ),
    (
        v6([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20),
        BlockReason::Documentation,
    ),
    (v6([0x0100, 0, 0, 0, 0, 0, 0, 0], 64), BlockReason::Reserved),
    (
        v6([0x0064, 0xff9b, 1, 0, 0, 0, 0, 0], 48),
        BlockReason::Reserved,
    ),
    // IETF protocol assignments, including Teredo (2001::/32), whose embedded IPv4 address is
    // obfuscated and which no webhook receiver needs.
    (v6([0x2001, 0, 0, 0, 0, 0, 0, 0], 23), BlockReason::Reserved),
];

/// Classifies an address: `None` for a public unicast address, otherwise why it is refused.
/// The operator's allowlist is not consulted here; see [`Policy::check`].
pub fn classify(ip: IpAddr) -> Option<BlockReason> {
    if METADATA.contains(&ip) {
        return Some(BlockReason::CloudMetadata);
    }
    match ip {
        IpAddr::V4(ip) => classify_v4(ip),
        IpAddr::V6(ip) => classify_v6(ip),
    }
}

fn classify_v4(ip: Ipv4Addr) -> Option<BlockReason> {
    if METADATA.contains(&IpAddr::V4(ip)) {
        return Some(BlockReason::CloudMetadata);
    }
    V4_BLOCKED
        .iter()
        .find(|(net, _)| net.contains(&ip))
        .map(|(_, reason)| *reason)
}

fn classify_v6(ip: Ipv6Addr) -> Option<BlockReason> {
    if let Some(reason) = V6_BLOCKED
        .iter()
        .find(|(net, _)| net.contains(&ip))
        .map(|(_, reason)| *reason)
    {
        return Some(reason);
    }
    let s = ip.segments();
    let low32 = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    match s {
        // IPv4-mapped ::ffff:a.b.c.d: a dual-stack socket connects to the IPv4 address itself.
        [0, 0, 0, 0, 0, 0xffff, _, _] => classify_v4(low32),
        // IPv4-compatible ::a.b.c.d (deprecated) and IPv4-translated ::ffff:0:a.b.c.d (SIIT):
        // refused even when the embedded address is public, since no legitimate endpoint uses
        // them.
        [0, 0, 0, 0, 0, 0, _, _] | [0, 0, 0, 0, 0xffff, 0, _, _] => {
            Some(classify_v4(low32).unwrap_or(BlockReason::Reserved))
        }
        // NAT64 well-known prefix: the gateway forwards to the embedded IPv4 address.
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => classify_v4(low32),
        // 6to4: the IPv4 address sits in bits 16..48.
        [0x2002, hi, lo, ..] => classify_v4(Ipv4Addr::new(
            (hi >> 8) as u8,
            hi as u8,
            (lo >> 8) as u8,
            lo as u8,
        )),
        _ => None,
    }
}

/// One host entry of the allowlist.
#[derive(Clone, Debug, PartialEq, Eq)]
enum HostPattern {
    /// `hooks.internal`: that name only.
    Exact(String),
    /// `*.corp.example`: any name below it, not the name itself.
    Subdomains(String),
}

impl HostPattern {
    fn matches(&self, host: &str) -> bool {
        match self {
            Self::Exact(name) => host == name,
            Self::Subdomains(suffix) => host
                .strip_suffix(suffix.as_str())
                .is_some_and(|rest| rest.len() > 1 && rest.ends_with('.')),
        }
    }
}

/// The operator's egress allowlist: hosts (`hooks.internal`, `*.corp.example`), addresses and
/// CIDRs (`127.0.0.1`, `::1`, `10.20.0.0/16`), comma-separated, as in `GATEHOUSE_EGRESS_ALLOW`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Allowlist {
    hosts: Vec<HostPattern>,
    nets: Vec<IpNet>,
}

/// A bad allowlist entry; the message names the entry and what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("egress allowlist entry `{entry}` is invalid: {problem}")]
pub struct AllowlistError {
    pub entry: String,
    pub problem: String,
}

impl Allowlist {
    /// An allowlist that opens nothing.
    pub fn empty() -> Self {
        Self::default()
    }

    /// Parses a comma-separated list. Blank entries (e.g. a trailing comma) are ignored; any
    /// other malformed entry fails the whole list so a typo never silently opens or closes
    /// something.
    pub fn parse(list: &str) -> Result<Self, AllowlistError> {
        let mut allow = Self::default();
        for raw in list.split(',') {
            let entry = raw.trim();
            if entry.is_empty() {
                continue;
            }
            let fail = |problem: &str| AllowlistError {
                entry: entry.to_owned(),
                problem: problem.to_owned(),
            };
            if entry.contains('/') {
                let net: IpNet = entry.parse().map_err(|_| {
                    fail("not a valid CIDR (expected e.g. 10.20.0.0/16 or fd12::/64)")
                })?;
                if net.trunc() != net {
                    return Err(fail(&format!(
                        "address has bits set beyond the /{} prefix; did you mean {}?",
                        net.prefix_len(),
                        net.trunc()
                    )));
                }
                allow.nets.push(canonical_net(net));
                continue;
            }
            let unbracketed = entry
                .strip_prefix('[')
                .and_then(|e| e.strip_suffix(']'))
                .unwrap_or(entry);
            if let Ok(ip) = unbracketed.parse::<IpAddr>() {
                allow.nets.push(IpNet::from(ip.to_canonical()));
                continue;
            }
            if entry.contains(':') {
                return Err(fail(
                    "ports are not supported; list the host or address only",
                ));
            }
            let (wildcard, name) = match entry.strip_prefix("*.") {
                Some(rest) => (true, rest),
                None => (false, entry),
            };
            let name = name.strip_suffix('.').unwrap_or(name);
            if name.is_empty() || name.contains('*') {
                return Err(fail(
                    "wildcards are only allowed as a leading `*.` (e.g. *.corp.example)",
                ));
            }
            match url::Host::parse(name) {
                Ok(url::Host::Domain(domain)) => {
                    if domain.split('.').any(str::is_empty) {
                        return Err(fail("empty label in host name"));
                    }
                    allow.hosts.push(if wildcard {
                        HostPattern::Subdomains(domain)
                    } else {
                        HostPattern::Exact(domain)
                    });
                }
                // WHATWG parsing turns spellings such as `0x7f.1` into addresses; accept them as
                // the address they denote, exactly like a URL would.
                Ok(url::Host::Ipv4(ip)) if !wildcard => {
                    allow.nets.push(IpNet::from(IpAddr::V4(ip)))
                }
                Ok(url::Host::Ipv6(ip)) if !wildcard => {
                    allow.nets.push(IpNet::from(IpAddr::V6(ip)))
                }
                Ok(_) => return Err(fail("a wildcard needs a host name after `*.`")),
                Err(e) => return Err(fail(&format!("not a valid host name ({e})"))),
            }
        }
        Ok(allow)
    }

    pub fn is_empty(&self) -> bool {
        self.hosts.is_empty() && self.nets.is_empty()
    }

    /// Whether `host` (a URL host, lowercase, as the `url` crate normalises it) is listed.
    pub fn allows_host(&self, host: &str) -> bool {
        let host = normalize_host(host);
        self.hosts.iter().any(|p| p.matches(host))
    }

    /// Whether `ip` falls in a listed address or CIDR. For metadata addresses only an exact
    /// single-address entry counts.
    pub fn allows_address(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        let exact_only = METADATA.contains(&ip);
        self.nets.iter().any(|net| {
            net.contains(&ip) && (!exact_only || net.prefix_len() == net.max_prefix_len())
        })
    }
}

/// `::ffff:10.0.0.0/104` is stored as `10.0.0.0/8` so it matches what `to_canonical` yields.
fn canonical_net(net: IpNet) -> IpNet {
    match net {
        IpNet::V6(n) if n.prefix_len() >= 96 => match n.network().to_ipv4_mapped() {
            Some(v4) => IpNet::V4(Ipv4Net::new_assert(v4, n.prefix_len() - 96)),
            None => net,
        },
        _ => net,
    }
}

/// Lowercase hosts come from the URL parser already; the trailing dot of a fully-qualified
/// name (`hooks.internal.`) must not defeat a match.
pub(crate) fn normalize_host(host: &str) -> &str {
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    host.strip_suffix('.').unwrap_or(host)
}

/// The decision procedure applied to every address a request may connect to.
#[derive(Clone, Debug, Default)]
pub struct Policy {
    allow: Allowlist,
}

impl Policy {
    pub fn new(allow: Allowlist) -> Self {
        Self { allow }
    }

    pub fn allowlist(&self) -> &Allowlist {
        &self.allow
    }

    /// `Ok` if a connection to `ip`, reached through the URL host `host`, is permitted.
    ///
    /// A listed host name opens whatever it resolves to, except metadata addresses, which need
    /// their own exact entry.
    pub fn check(&self, host: &str, ip: IpAddr) -> Result<(), BlockReason> {
        let Some(reason) = classify(ip) else {
            return Ok(());
        };
        if self.allow.allows_address(ip) {
            return Ok(());
        }
        if reason != BlockReason::CloudMetadata && self.allow.allows_host(host) {
            return Ok(());
        }
        Err(reason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn classifies_special_ranges() {
        let cases = [
            ("127.0.0.1", Some(BlockReason::Loopback)),
            ("127.255.0.9", Some(BlockReason::Loopback)),
            ("10.0.0.5", Some(BlockReason::Private)),
            ("172.16.0.1", Some(BlockReason::Private)),
            ("172.31.255.255", Some(BlockReason::Private)),
            ("172.32.0.1", None),
            ("192.168.1.1", Some(BlockReason::Private)),
            ("100.64.0.1", Some(BlockReason::SharedAddressSpace)),
            ("100.127.255.254", Some(BlockReason::SharedAddressSpace)),
            ("100.128.0.1", None),
            ("169.254.1.1", Some(BlockReason::LinkLocal)),
            ("169.254.169.254", Some(BlockReason::CloudMetadata)),
            ("100.100.100.200", Some(BlockReason::CloudMetadata)),
            ("0.0.0.0", Some(BlockReason::Unspecified)),
            ("0.1.2.3", Some(BlockReason::Unspecified)),
            ("255.255.255.255", Some(BlockReason::Broadcast)),
            ("224.0.0.1", Some(BlockReason::Multicast)),
            ("239.255.255.250", Some(BlockReason::Multicast)),
            ("240.0.0.1", Some(BlockReason::Reserved)),
            ("192.0.2.10", Some(BlockReason::Documentation)),
            ("198.51.100.10", Some(BlockReason::Documentation)),
            ("203.0.113.10", Some(BlockReason::Documentation)),
            ("198.18.0.1", Some(BlockReason::Reserved)),
            ("8.8.8.8", None),
            ("93.184.216.34", None),
            ("::", Some(BlockReason::Unspecified)),
            ("::1", Some(BlockReason::Loopback)),
            ("fe80::1", Some(BlockReason::LinkLocal)),
            ("fc00::1", Some(BlockReason::UniqueLocal)),
            ("fd12:3456::1", Some(BlockReason::UniqueLocal)),
            ("fd00:ec2::254", Some(BlockReason::CloudMetadata)),
            ("ff02::1", Some(BlockReason::Multicast)),
            ("2001:db8::1", Some(BlockReason::Documentation)),
            (
                "2001:0:4136:e378:8000:63bf:3fff:fdd2",
                Some(BlockReason::Reserved),
            ),
            ("2606:4700:4700::1111", None),
        ];
        for (addr, expected) in cases {
            assert_eq!(classify(ip(addr)), expected, "{addr}");
        }
    }

    #[test]
    fn ipv6_forms_embedding_ipv4_are_judged_by_the_ipv4_address() {
        assert_eq!(
            classify(ip("::ffff:127.0.0.1")),
            Some(BlockReason::Loopback)
        );
        assert_eq!(classify(ip("::ffff:7f00:1")), Some(BlockReason::Loopback));
        assert_eq!(classify(ip("::ffff:10.1.2.3")), Some(BlockReason::Private));
        assert_eq!(
            classify(ip("::ffff:169.254.169.254")),
            Some(BlockReason::CloudMetadata)
        );
        assert_eq!(classify(ip("::ffff:8.8.8.8")), None);
        // IPv4-compatible: blocked either way.
        assert_eq!(classify(ip("::127.0.0.1")), Some(BlockReason::Loopback));
        assert_eq!(classify(ip("::8.8.8.8")), Some(BlockReason::Reserved));
        assert_eq!(
            classify(ip("::ffff:0:10.0.0.1")),
            Some(BlockReason::Private)
        );
        // NAT64 and 6to4.
        assert_eq!(classify(ip("64:ff9b::a00:1")), Some(BlockReason::Private));
        assert_eq!(classify(ip("64:ff9b::808:808")), None);
        assert_eq!(classify(ip("2002:7f00:1::1")), Some(BlockReason::Loopback));
        assert_eq!(
            classify(ip("2002:a9fe:a9fe::")),
            Some(BlockReason::CloudMetadata)
        );
        assert_eq!(classify(ip("2002:808:808::1")), None);
    }

    #[test]
    fn parses_hosts_addresses_and_cidrs() {
        let allow = Allowlist::parse(
            " hooks.internal, *.corp.example ,127.0.0.1,[::1], 10.20.0.0/16, fd00::/8, HOOKS2.Internal., ",
        )
        .unwrap();
        assert!(allow.allows_host("hooks.internal"));
        assert!(allow.allows_host("hooks.internal."));
        assert!(allow.allows_host("hooks2.internal"));
        assert!(allow.allows_host("a.corp.example"));
        assert!(allow.allows_host("b.a.corp.example"));
        assert!(!allow.allows_host("corp.example"));
        assert!(!allow.allows_host("xcorp.example"));
        assert!(!allow.allows_host("evil.internal"));
        assert!(allow.allows_address(ip("127.0.0.1")));
        assert!(allow.allows_address(ip("::ffff:127.0.0.1")));
        assert!(!allow.allows_address(ip("127.0.0.2")));
        assert!(allow.allows_address(ip("::1")));
        assert!(allow.allows_address(ip("10.20.3.4")));
        assert!(!allow.allows_address(ip("10.21.0.1")));
        assert!(allow.allows_address(ip("fd12::1")));
        assert!(Allowlist::parse("").unwrap().is_empty());
        assert!(Allowlist::parse(" , ,").unwrap().is_empty());
    }

    #[test]
    fn rejects_malformed_entries_with_the_entry_named() {
        let cases = [
            ("10.0.0.0/33", "not a valid CIDR"),
            ("10.1.2.3/8", "did you mean 10.0.0.0/8?"),
            ("hooks.internal:8443", "ports are not supported"),
            ("a.*.example", "wildcards are only allowed"),
            ("*", "wildcards are only allowed"),
            ("*.10.0.0.1", "a wildcard needs a host name"),
            ("bad host", "not a valid host name"),
            ("a..b", "empty label"),
        ];
        for (entry, needle) in cases {
            let err = Allowlist::parse(&format!("ok.example,{entry}")).unwrap_err();
            assert_eq!(err.entry, entry);
            let msg = err.to_string();
            assert!(msg.contains(needle), "{entry}: {msg}");
            assert!(msg.contains(&format!("`{entry}`")), "{msg}");
        }
    }

    #[test]
    fn policy_applies_allowlist_and_protects_metadata() {
        let policy = Policy::new(
            Allowlist::parse("hooks.internal,169.254.0.0/16,127.0.0.1,100.100.100.200").unwrap(),
        );
        assert_eq!(policy.check("example.com", ip("93.184.216.34")), Ok(()));
        assert_eq!(
            policy.check("example.com", ip("10.0.0.5")),
            Err(BlockReason::Private)
        );
        assert_eq!(policy.check("hooks.internal", ip("10.0.0.5")), Ok(()));
        assert_eq!(policy.check("x", ip("127.0.0.1")), Ok(()));
        assert_eq!(policy.check("x", ip("169.254.10.10")), Ok(()));
        // The /16 does not open the metadata address inside it, nor does a listed host name.
        assert_eq!(
            policy.check("x", ip("169.254.169.254")),
            Err(BlockReason::CloudMetadata)
        );
        assert_eq!(
            policy.check("hooks.internal", ip("169.254.169.254")),
            Err(BlockReason::CloudMetadata)
        );
        // An exact entry does.
        assert_eq!(policy.check("x", ip("100.100.100.200")), Ok(()));
        let exact = Policy::new(Allowlist::parse("169.254.169.254").unwrap());
        assert_eq!(exact.check("x", ip("169.254.169.254")), Ok(()));
        assert_eq!(exact.check("x", ip("::ffff:169.254.169.254")), Ok(()));
    }

    #[test]
    fn mapped_cidr_entries_match_ipv4() {
        let allow = Allowlist::parse("::ffff:10.0.0.0/104").unwrap();
        assert!(allow.allows_address(ip("10.9.9.9")));
        assert!(!allow.allows_address(ip("11.0.0.1")));
    }
}
