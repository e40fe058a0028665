//! A fault-injecting TCP proxy on loopback: forwards each connection to the
//! registry and cuts some of them after a random number of bytes, in the
//! middle of a request or of an answer, as a flaky network does; or, as a
//! hostile hop between desk and registry would, rewrites bytes of the
//! answers ([`FaultProxy::tamper`]).
//!
//! Std threads only; every socket has a read timeout, the accept loop polls a
//! stop flag, and dropping the proxy stops it.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// How often and how the proxy cuts.
#[derive(Clone, Copy, Debug)]
pub struct Faults {
    /// Cut one connection in `cut_one_in` (0: never cut).
    pub cut_one_in: u64,
    /// A cut connection dies after a random number of bytes below this.
    pub max_bytes_before_cut: usize,
}

/// Bytes the proxy rewrites in answers: each occurrence of `from` within
/// one read becomes `to` (the same length, so that the framing holds).
type Tamper = Arc<Mutex<Option<(Vec<u8>, Vec<u8>)>>>;

pub struct FaultProxy {
    pub addr: SocketAddr,
    faults: Arc<Mutex<Faults>>,
    tamper: Tamper,
    stop: Arc<AtomicBool>,
    /// Connections cut so far.
    pub cuts: Arc<AtomicU64>,
    pub connections: Arc<AtomicU64>,
    accept: Option<JoinHandle<()>>,
}

/// A small deterministic random source (xorshift), seeded per test.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

impl FaultProxy {
    pub fn start(upstream: SocketAddr, faults: Faults, seed: u64) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let faults = Arc::new(Mutex::new(faults));
        let stop = Arc::new(AtomicBool::new(false));
        let cuts = Arc::new(AtomicU64::new(0));
        let connections = Arc::new(AtomicU64::new(0));
        let tamper: Tamper = Arc::new(Mutex::new(None));
        let (f, s, c, n, t) = (faults.clone(), stop.clone(), cuts.clone(), connections.clone(), tamper.clone());
        let accept = std::thread::spawn(move || {
            let mut rng = Rng(seed | 1);
            while !s.load(Ordering::SeqCst) {
                let client = match listener.accept() {
                    Ok((c, _)) => c,
                    Err(_) => {
                        std::thread::sleep(Duration::from_millis(5));
                        continue;
                    }
                };
                n.fetch_add(1, Ordering::SeqCst);
                let faults = *f.lock().unwrap();
                let budget = if faults.cut_one_in > 0 && rng.next() % faults.cut_one_in == 0 {
                    Some((rng.next() as usize) % faults.max_bytes_before_cut.max(1))
                } else {
                    None
                };
                let (stop, cuts, tamper) = (s.clone(), c.clone(), t.clone());
                std::thread::spawn(move || relay(client, upstream, budget, stop, cuts, tamper));
            }
        });
        FaultProxy { addr, faults, tamper, stop, cuts, connections, accept: Some(accept) }
    }

    /// From now on, `from` becomes `to` in every answer (`None`: no more).
    /// Panics unless both have the same length.
    pub fn tamper(&self, rewrite: Option<(&[u8], &[u8])>) {
        if let Some((from, to)) = rewrite {
            assert_eq!(from.len(), to.len(), "a rewrite keeps the length");
        }
        *self.tamper.lock().unwrap() = rewrite.map(|(f, t)| (f.to_vec(), t.to_vec()));
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn set_faults(&self, faults: Faults) {
        *self.faults.lock().unwrap() = faults;
    }

    /// The faults in force, for a thread that changes them while a test
    /// waits on a request (say, heals the network after the first cut).
    pub fn faults_handle(&self) -> Arc<Mutex<Faults>> {
        self.faults.clone()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
    }
}

/// `from` replaced by `to` wherever it occurs in `data`.
fn rewrite(data: &mut [u8], from: &[u8], to: &[u8]) {
    if from.is_empty() || data.len() < from.len() {
        return;
    }
    let mut i = 0;
    while i + from.len() <= data.len() {
        if &data[i..i + from.len()] == from {
            data[i..i + from.len()].copy_from_slice(to);
            i += from.len();
        } else {
            i += 1;
        }
    }
}

/// Copies both ways until either side closes, the budget of bytes is spent
/// (then both sides are cut), or the proxy stops; answers pass through the
/// rewrite in force.
fn relay(
    client: TcpStream,
    upstream: SocketAddr,
    budget: Option<usize>,
    stop: Arc<AtomicBool>,
    cuts: Arc<AtomicU64>,
    tamper: Tamper,
) {
    let Ok(server) = TcpStream::connect_timeout(&upstream, Duration::from_secs(2)) else {
        let _ = client.shutdown(Shutdown::Both);
        return;
    };
    let spent = Arc::new(AtomicUsize::new(0));
    let cut = Arc::new(AtomicBool::new(false));
    let pump = |mut from: TcpStream, mut to: TcpStream, tamper: Option<Tamper>| {
        let (spent, cut, stop, cuts) = (spent.clone(), cut.clone(), stop.clone(), cuts.clone());
        std::thread::spawn(move || {
            let _ = from.set_read_timeout(Some(Duration::from_millis(200)));
            let mut buf = [0u8; 8192];
            // Bounded: an idle connection is given up after about two minutes.
            let mut idle = 0;
            while !stop.load(Ordering::SeqCst) && !cut.load(Ordering::SeqCst) && idle < 600 {
                let n = match from.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                        idle += 1;
                        continue;
                    }
                    Err(_) => break,
                };
                idle = 0;
                if let Some(rule) = tamper.as_ref().and_then(|t| t.lock().unwrap().clone()) {
                    rewrite(&mut buf[..n], &rule.0, &rule.1);
                }
                let mut n = n;
                if let Some(limit) = budget {
                    let before = spent.fetch_add(n, Ordering::SeqCst);
                    if before + n >= limit {
                        n = limit.saturating_sub(before);
                        let _ = to.write_all(&buf[..n]);
                        if !cut.swap(true, Ordering::SeqCst) {
                            cuts.fetch_add(1, Ordering::SeqCst);
                        }
                        break;
                    }
                }
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
            let _ = from.shutdown(Shutdown::Both);
            let _ = to.shutdown(Shutdown::Both);
        })
    };
    let (Ok(c2), Ok(s2)) = (client.try_clone(), server.try_clone()) else { return };
    let up = pump(client, server, None);
    let down = pump(s2, c2, Some(tamper));
    let _ = up.join();
    let _ = down.join();
}
