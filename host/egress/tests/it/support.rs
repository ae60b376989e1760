//! Test servers: an axum origin that counts accepted connections, raw TCP servers for
//! misbehaving peers, a small forward proxy, and a TLS origin with a generated CA.

use std::{
    collections::HashMap,
    net::{IpAddr, SocketAddr},
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use axum::{Router, serve::ListenerExt};
use gatehouse_egress::{
    Allowlist, EgressClient, EgressConfig, ProxyConfig, ProxyTrust, StaticResolver,
};
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader},
    net::{TcpListener, TcpStream},
};
use tokio_rustls::{
    TlsAcceptor,
    rustls::{
        self,
        pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer},
    },
};

/// An address far from anything on this machine; only ever handed to the resolver, never
/// connected to (requests to it go through the test proxy or are refused).
pub const PUBLIC_IP: &str = "93.184.216.34";

pub fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// A running server and how many TCP connections it accepted.
pub struct Server {
    pub addr: SocketAddr,
    accepts: Arc<AtomicUsize>,
}

impl Server {
    pub fn accepts(&self) -> usize {
        self.accepts.load(Ordering::SeqCst)
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }
}

/// Serves `app` with axum on `bind` (e.g. `127.0.0.1:0`), counting accepted connections.
pub async fn serve(bind: &str, app: Router) -> Server {
    let listener = TcpListener::bind(bind).await.expect("bind test server");
    let addr = listener.local_addr().unwrap();
    let accepts = Arc::new(AtomicUsize::new(0));
    let counter = accepts.clone();
    let listener = listener.tap_io(move |_| {
        counter.fetch_add(1, Ordering::SeqCst);
    });
    tokio::spawn(async move { axum::serve(listener, app).await });
    Server { addr, accepts }
}

/// A raw TCP server running `handle` for each connection.
pub async fn serve_raw<F, Fut>(handle: F) -> Server
where
    F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepts = Arc::new(AtomicUsize::new(0));
    let counter = accepts.clone();
    let handle = Arc::new(handle);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(handle(stream));
        }
    });
    Server { addr, accepts }
}

/// Reads a request head (through the blank line) and returns its lines.
pub async fn read_head<R: tokio::io::AsyncBufRead + Unpin>(reader: &mut R) -> Vec<String> {
    let mut lines = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
            return lines;
        }
        let line = line.trim_end().to_owned();
        if line.is_empty() {
            return lines;
        }
        lines.push(line);
    }
}

pub fn config(allow: &str) -> EgressConfig {
    EgressConfig {
        allow: Allowlist::parse(allow).unwrap(),
        timeout: Duration::from_secs(5),
        ..EgressConfig::default()
    }
}

pub fn client(config: EgressConfig, resolver: StaticResolver) -> EgressClient {
    EgressClient::with_resolver(config, Arc::new(resolver)).unwrap()
}

pub fn proxy_vars(vars: &[(&str, String)], trust: ProxyTrust) -> ProxyConfig {
    let vars: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect();
    ProxyConfig::from_vars(|name| vars.get(name).cloned(), trust).unwrap()
}

/// What the test proxy saw: request line and headers (lowercased names).
#[derive(Clone, Debug)]
pub struct ProxiedRequest {
    pub method: String,
    pub target: String,
    pub headers: Vec<(String, String)>,
}

pub struct TestProxy {
    pub server: Server,
    pub seen: Arc<Mutex<Vec<ProxiedRequest>>>,
}

impl TestProxy {
    pub fn seen(&self) -> Vec<ProxiedRequest> {
        self.seen.lock().unwrap().clone()
    }
}

/// A forward proxy. Absolute-form requests are answered by the proxy itself
/// (`proxied <METHOD> <URL>`), standing in for the origin; `CONNECT host:port` is tunnelled to
/// the address `tunnels` maps it to (so no traffic leaves the machine), else refused with 502.
pub async fn proxy(tunnels: HashMap<String, SocketAddr>) -> TestProxy {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let tunnels = Arc::new(tunnels);
    let server = serve_raw(move |stream| {
        let log = log.clone();
        let tunnels = tunnels.clone();
        async move {
            let mut reader = BufReader::new(stream);
            let head = read_head(&mut reader).await;
            let Some(request_line) = head.first() else {
                return;
            };
            let mut parts = request_line.split_whitespace();
            let method = parts.next().unwrap_or_default().to_owned();
            let target = parts.next().unwrap_or_default().to_owned();
            let headers: Vec<(String, String)> = head[1..]
                .iter()
                .filter_map(|l| l.split_once(':'))
                .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
                .collect();
            log.lock().unwrap().push(ProxiedRequest {
                method: method.clone(),
                target: target.clone(),
                headers: headers.clone(),
            });
            if method == "CONNECT" {
                let Some(upstream) = tunnels.get(&target) else {
                    let _ = reader
                        .get_mut()
                        .write_all(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n")
                        .await;
                    return;
                };
                let mut upstream = TcpStream::connect(upstream).await.unwrap();
                let mut client = reader.into_inner();
                client
                    .write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
                    .await
                    .unwrap();
                let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                return;
            }
            let length: usize = headers
                .iter()
                .find(|(k, _)| k == "content-length")
                .and_then(|(_, v)| v.parse().ok())
                .unwrap_or(0);
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body).await;
            let reply = format!("proxied {method} {target}");
            let response = format!(
                "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{reply}",
                reply.len()
            );
            let _ = reader.get_mut().write_all(response.as_bytes()).await;
        }
    })
    .await;
    TestProxy { server, seen }
}

/// A CA and a server certificate it issued.
pub struct TestPki {
    pub ca_pem: String,
    pub cert: CertificateDer<'static>,
    pub key: PrivateKeyDer<'static>,
}

pub fn ca(name: &str) -> (CertificateParams, KeyPair, String) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let pem = params.self_signed(&key).unwrap().pem();
    (params, key, pem)
}

/// A CA plus a leaf certificate for `names` (DNS names or IP addresses).
pub fn pki(names: &[&str]) -> TestPki {
    let (ca_params, ca_key, ca_pem) = ca("Gatehouse Test CA");
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf_key = KeyPair::generate().unwrap();
    let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    let leaf = CertificateParams::new(names)
        .unwrap()
        .signed_by(&leaf_key, &issuer)
        .unwrap();
    TestPki {
        ca_pem,
        cert: leaf.der().clone(),
        key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
    }
}

/// Serves `app` over TLS on 127.0.0.1 with the PKI's leaf certificate. Counts TCP accepts,
/// including handshakes the client aborted.
pub async fn serve_tls(pki: &TestPki, app: Router) -> Server {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![pki.cert.clone()], pki.key.clone_key())
        .unwrap();
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    let acceptor = TlsAcceptor::from(Arc::new(tls));
    let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = tcp.local_addr().unwrap();
    let accepts = Arc::new(AtomicUsize::new(0));
    let listener = TlsListener {
        tcp,
        acceptor,
        accepts: accepts.clone(),
    };
    tokio::spawn(async move { axum::serve(listener, app).await });
    Server { addr, accepts }
}

struct TlsListener {
    tcp: TcpListener,
    acceptor: TlsAcceptor,
    accepts: Arc<AtomicUsize>,
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((stream, addr)) = self.tcp.accept().await else {
                continue;
            };
            self.accepts.fetch_add(1, Ordering::SeqCst);
            // Handshakes run inline: fine for a test server, and a client that rejects the
            // certificate simply fails here.
            if let Ok(tls) = self.acceptor.accept(stream).await {
                return (tls, addr);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}
