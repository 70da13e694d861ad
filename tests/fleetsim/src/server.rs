//! The HTTP server: routes each request by protocol (X-Amz-Target for awsJson1_1, the form's `Action`
//! for the query protocol), takes the account from the access key and the region and service from
//! the SigV4 credential scope, applies RDS's per account-region token bucket and the per-call
//! latency, answers, and counts.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::fleet::Fleet;
use crate::proto::{param, parse_form, request_id, Answer};
use crate::{backup, rds, services};

/// RDS's documented default: 300 requests in a burst, 12 per second sustained, per account and region.
#[derive(Debug, Clone, Copy)]
pub struct Throttle {
    pub burst: f64,
    pub rate: f64,
}

impl Default for Throttle {
    fn default() -> Self {
        Throttle {
            burst: 300.0,
            rate: 12.0,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub latency: Duration,
    /// None: no throttling.
    pub throttle: Option<Throttle>,
    /// The vault account's bucket when it differs (a quota increase AWS granted it).
    pub vault_throttle: Option<Throttle>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            latency: Duration::from_millis(40),
            throttle: Some(Throttle::default()),
            vault_throttle: None,
        }
    }
}

/// Every operation the simulator serves, as (service, operation).
pub const OPERATIONS: &[(&str, &str)] = &[
    ("sts", "GetCallerIdentity"),
    ("sts", "AssumeRole"),
    ("organizations", "ListAccounts"),
    ("organizations", "DescribeOrganization"),
    ("rds", "DescribeDBInstances"),
    ("rds", "DescribeDBClusters"),
    ("rds", "DescribeDBSnapshots"),
    ("rds", "DescribeDBClusterSnapshots"),
    ("rds", "DescribeDBSnapshotAttributes"),
    ("rds", "DescribeDBClusterSnapshotAttributes"),
    ("rds", "ListTagsForResource"),
    ("rds", "DescribeAccountAttributes"),
    ("rds", "DescribeOptionGroups"),
    ("rds", "DescribeBlueGreenDeployments"),
    ("kms", "DescribeKey"),
    ("kms", "GetKeyPolicy"),
    ("backup", "ListBackupVaults"),
    ("backup", "ListRecoveryPointsByBackupVault"),
    ("backup", "GetBackupVaultAccessPolicy"),
];
const OTHER: usize = OPERATIONS.len();

#[derive(Default)]
struct OpCount {
    calls: AtomicU64,
    throttled: AtomicU64,
    errors: AtomicU64,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    last: Instant,
    calls: u64,
    throttled: u64,
}

pub struct Sim {
    pub fleet: Fleet,
    config: Config,
    ops: Vec<OpCount>,
    buckets: Mutex<HashMap<(u32, u32), Bucket>>,
    requests: AtomicU64,
    in_flight: AtomicI64,
    peak_in_flight: AtomicI64,
    started: Instant,
    /// Milliseconds since `started` of the first and the latest AWS call (0 = none yet).
    first_call_ms: AtomicU64,
    last_call_ms: AtomicU64,
    stop: watch::Sender<bool>,
}

impl Sim {
    pub fn new(fleet: Fleet, config: Config) -> Arc<Sim> {
        let (stop, _) = watch::channel(false);
        Arc::new(Sim {
            fleet,
            config,
            ops: (0..=OPERATIONS.len()).map(|_| OpCount::default()).collect(),
            buckets: Mutex::new(HashMap::new()),
            requests: AtomicU64::new(0),
            in_flight: AtomicI64::new(0),
            peak_in_flight: AtomicI64::new(0),
            started: Instant::now(),
            first_call_ms: AtomicU64::new(0),
            last_call_ms: AtomicU64::new(0),
            stop,
        })
    }

    pub fn shutdown(&self) {
        self.stop.send_replace(true);
    }

    pub fn reset(&self) {
        for op in &self.ops {
            op.calls.store(0, Ordering::Relaxed);
            op.throttled.store(0, Ordering::Relaxed);
            op.errors.store(0, Ordering::Relaxed);
        }
        if let Ok(mut buckets) = self.buckets.lock() {
            buckets.clear();
        }
        self.peak_in_flight.store(0, Ordering::Relaxed);
        self.first_call_ms.store(0, Ordering::Relaxed);
        self.last_call_ms.store(0, Ordering::Relaxed);
    }

    /// Calls per operation, throttled answers, the busiest account-region.
    pub fn counts(&self) -> Value {
        let mut by_op = serde_json::Map::new();
        let (mut total, mut throttled, mut errors) = (0u64, 0u64, 0u64);
        for (i, op) in self.ops.iter().enumerate() {
            let calls = op.calls.load(Ordering::Relaxed);
            if calls == 0 {
                continue;
            }
            let t = op.throttled.load(Ordering::Relaxed);
            let e = op.errors.load(Ordering::Relaxed);
            total += calls;
            throttled += t;
            errors += e;
            let name = OPERATIONS.get(i).map(|(_, o)| *o).unwrap_or("Other");
            by_op.insert(
                name.to_string(),
                json!({ "calls": calls, "throttled": t, "errors": e - t }),
            );
        }
        let (mut scopes, mut max_calls, mut max_throttled) = (0u64, 0u64, 0u64);
        let mut busiest = String::new();
        if let Ok(buckets) = self.buckets.lock() {
            for ((a, r), b) in buckets.iter() {
                scopes += 1;
                max_throttled = max_throttled.max(b.throttled);
                if b.calls > max_calls {
                    max_calls = b.calls;
                    let region = self.fleet.regions.get(*r as usize).copied().unwrap_or("?");
                    busiest = format!("{}/{region}", self.fleet.account_id(*a as usize));
                }
            }
        }
        let first = self.first_call_ms.load(Ordering::Relaxed);
        let last = self.last_call_ms.load(Ordering::Relaxed);
        json!({
            "total": total,
            "throttled": throttled,
            "other_errors": errors - throttled,
            "by_operation": by_op,
            "rds_scopes": scopes,
            "rds_scope_max_calls": max_calls,
            "rds_scope_busiest": busiest,
            "rds_scope_max_throttled": max_throttled,
            "peak_in_flight": self.peak_in_flight.load(Ordering::Relaxed),
            "busy_s": if first == 0 { 0.0 } else { (last - first) as f64 / 1000.0 },
        })
    }

    /// True when the RDS bucket of (account, region) has a token for this request.
    fn admit(&self, account: usize, region: u32) -> bool {
        let Ok(mut buckets) = self.buckets.lock() else {
            return true;
        };
        let now = Instant::now();
        let throttle = match self.config.vault_throttle {
            Some(vault) if account == crate::fleet::VAULT => self.config.throttle.map(|_| vault),
            _ => self.config.throttle,
        };
        let bucket = buckets.entry((account as u32, region)).or_insert(Bucket {
            tokens: throttle.map(|t| t.burst).unwrap_or(0.0),
            last: now,
            calls: 0,
            throttled: 0,
        });
        bucket.calls += 1;
        let Some(t) = throttle else {
            return true;
        };
        let elapsed = now.duration_since(bucket.last).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * t.rate).min(t.burst);
        bucket.last = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            bucket.throttled += 1;
            false
        }
    }

    fn mark_call(&self) {
        let ms = (self.started.elapsed().as_millis() as u64).max(1);
        let _ = self
            .first_call_ms
            .compare_exchange(0, ms, Ordering::Relaxed, Ordering::Relaxed);
        self.last_call_ms.fetch_max(ms, Ordering::Relaxed);
    }
}

/// Binds 127.0.0.1:`port` (0: any free port) and serves until [`Sim::shutdown`].
pub async fn start(
    sim: Arc<Sim>,
    port: u16,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    let addr = listener.local_addr()?;
    let mut stop = sim.stop.subscribe();
    let handle = tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = stop.changed() => break,
                accepted = listener.accept() => {
                    let Ok((stream, _)) = accepted else { continue };
                    let _ = stream.set_nodelay(true);
                    let sim = sim.clone();
                    tokio::spawn(async move {
                        let service = service_fn(move |req| handle(sim.clone(), req));
                        let _ = http1::Builder::new()
                            .keep_alive(true)
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    });
                }
            }
        }
    });
    Ok((addr, handle))
}

fn respond(answer: Answer, rid: &str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(answer.body)));
    *response.status_mut() =
        hyper::StatusCode::from_u16(answer.status).unwrap_or(hyper::StatusCode::BAD_REQUEST);
    let headers = response.headers_mut();
    if let Ok(v) = answer.content_type.parse() {
        headers.insert("content-type", v);
    }
    if let Ok(v) = rid.parse() {
        headers.insert("x-amzn-requestid", v);
    }
    response
}

fn text(status: u16, body: String, content_type: &'static str) -> Response<Full<Bytes>> {
    respond(
        Answer {
            status,
            content_type,
            body,
        },
        "control",
    )
}

/// `AWS4-HMAC-SHA256 Credential=AKID/20260601/us-east-1/rds/aws4_request, ...` -> (key, region, service).
fn credential_scope(authorization: &str) -> Option<(&str, &str, &str)> {
    let credential = authorization.split("Credential=").nth(1)?;
    let credential = credential.split([',', ' ']).next()?;
    let mut parts = credential.split('/');
    let key = parts.next()?;
    let _date = parts.next()?;
    let region = parts.next()?;
    let service = parts.next()?;
    Some((key, region, service))
}

async fn handle(
    sim: Arc<Sim>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_string();
    let method = req.method().as_str().to_string();
    if let Some(control) = path.strip_prefix("/fleetsim/") {
        return Ok(control_request(&sim, &method, control));
    }
    let query_string = req.uri().query().unwrap_or("").to_string();
    let headers = req.headers().clone();
    let body = match req.into_body().collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => Bytes::new(),
    };
    let n = sim.requests.fetch_add(1, Ordering::Relaxed);
    let rid = request_id(n);
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    let (key, region_name, scope_service) =
        credential_scope(header("authorization")).unwrap_or(("", "us-east-1", ""));
    let region_name = region_name.to_string();
    let account = services::account_of_key(&sim.fleet, key);
    let region = sim.fleet.region_index(&region_name);

    // Which operation: JSON protocols name it in X-Amz-Target, the query protocol in the form,
    // REST protocols (AWS Backup) in the method and path.
    let target = header("x-amz-target").to_string();
    let mut vault_name = None;
    let rest = (target.is_empty() && scope_service == "backup")
        .then(|| backup::route(&method, &path))
        .flatten();
    let (service, operation, form, json_body) = if let Some((op, name)) = rest {
        vault_name = name;
        (
            "backup".to_string(),
            op.to_string(),
            Vec::new(),
            Value::Null,
        )
    } else if let Some((prefix, op)) = target.split_once('.') {
        let service = match prefix {
            "TrentService" => "kms",
            p if p.starts_with("AWSOrganizations") => "organizations",
            _ => "unknown",
        };
        let value: Value = serde_json::from_slice(&body).unwrap_or(json!({}));
        (service.to_string(), op.to_string(), Vec::new(), value)
    } else {
        let form = parse_form(&body);
        let action = param(&form, "Action").unwrap_or("").to_string();
        let service = OPERATIONS
            .iter()
            .find(|(_, o)| *o == action)
            .map(|(s, _)| s.to_string())
            .unwrap_or_else(|| scope_service.to_string());
        (service, action, form, Value::Null)
    };
    let op_index = OPERATIONS
        .iter()
        .position(|(s, o)| *s == service && *o == operation)
        .unwrap_or(OTHER);
    let counter = &sim.ops[op_index];
    counter.calls.fetch_add(1, Ordering::Relaxed);
    sim.mark_call();
    let in_flight = sim.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
    sim.peak_in_flight.fetch_max(in_flight, Ordering::Relaxed);

    let admitted =
        service != "rds" || sim.admit(account, region.map(|r| r as u32).unwrap_or(u32::MAX));
    if !sim.config.latency.is_zero() {
        tokio::time::sleep(sim.config.latency).await;
    }
    let answer = if !admitted {
        counter.throttled.fetch_add(1, Ordering::Relaxed);
        Answer::query_error(400, "Throttling", "Rate exceeded", &rid)
    } else {
        match service.as_str() {
            "rds" => rds::handle(
                &rds::Ctx {
                    fleet: &sim.fleet,
                    account,
                    region,
                    region_name: &region_name,
                    request_id: &rid,
                },
                &operation,
                &form,
            ),
            "sts" => services::sts(&sim.fleet, account, &operation, &form, &rid),
            "organizations" => services::organizations(&sim.fleet, account, &operation, &json_body),
            "backup" => backup::handle(
                &sim.fleet,
                account,
                region,
                &region_name,
                &operation,
                vault_name.as_deref(),
                &query_string,
            ),
            "kms" => services::kms(
                &sim.fleet,
                account,
                region,
                &region_name,
                &operation,
                &json_body,
            ),
            _ => Answer::query_error(
                400,
                "InvalidAction",
                &format!("fleetsim does not serve {service} {operation}"),
                &rid,
            ),
        }
    };
    if answer.status != 200 {
        counter.errors.fetch_add(1, Ordering::Relaxed);
    }
    sim.in_flight.fetch_sub(1, Ordering::Relaxed);
    sim.mark_call();
    Ok(respond(answer, &rid))
}

fn control_request(sim: &Sim, method: &str, path: &str) -> Response<Full<Bytes>> {
    let json_type = "application/json";
    match (method, path) {
        ("GET", "health") => text(200, "ok\n".into(), "text/plain"),
        ("GET", "counts") => text(200, format!("{:#}\n", sim.counts()), json_type),
        ("GET", "expected") => text(200, format!("{:#}\n", sim.fleet.truth_json()), json_type),
        ("GET", "expected-sources") => {
            let mut out = String::new();
            for (arn, status) in &sim.fleet.expected {
                out.push_str(&format!("{arn}\t{status:?}\n"));
            }
            text(200, out, "text/plain")
        }
        ("GET", "rules") => text(200, sim.fleet.rules_toml(), "text/plain"),
        ("POST", "reset") => {
            sim.reset();
            text(200, "reset\n".into(), "text/plain")
        }
        ("POST", "shutdown") => {
            sim.shutdown();
            text(200, "stopping\n".into(), "text/plain")
        }
        _ => text(
            404,
            format!("no such control endpoint: {method} /fleetsim/{path}\n"),
            "text/plain",
        ),
    }
}
