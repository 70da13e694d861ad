//! `fleetsim serve | rules | expected` — see `fleetsim --help`.

use std::io::Write as _;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use fleetsim::{fleet::Params, server, time, Config, Fleet, Sim, Throttle};

const HELP: &str = "fleetsim: a simulated AWS Organization for rdsguard's scale tests (127.0.0.1 only)

USAGE:
  fleetsim serve    [FLEET] [--latency-ms 40] [--port 0] [--rds-burst 300] [--rds-rate 12] [--no-throttle]
                    [--vault-rds-burst B] [--vault-rds-rate R]  (the vault's own quota, as if raised)
                    [--addr-file FILE] [--counts-out FILE] [--max-runtime-s 7200]
  fleetsim rules    [FLEET]     print rdsguard rules that govern the fleet
  fleetsim expected [FLEET]     print the expected verdicts and the minimal call count (JSON)

FLEET: --accounts 10 --regions 2 --sources 200 --seed 1 --as-of 2026-06-01T06:00:00Z [--drill]
       (--drill: the staging rule asks for restore drills; their evidence is on the replicas)

serve prints `listening http://127.0.0.1:PORT` on stdout, then serves until SIGINT/SIGTERM,
POST /fleetsim/shutdown or --max-runtime-s, and prints the call counts (JSON) on stderr on exit.
Control: GET /fleetsim/{health,counts,expected,expected-sources,rules}, POST /fleetsim/{reset,shutdown}.
Point an AWS SDK at it with AWS_ENDPOINT_URL=http://127.0.0.1:PORT and any access keys.";

struct Args {
    command: String,
    params: Params,
    latency_ms: u64,
    port: u16,
    throttle: Option<Throttle>,
    vault_throttle: Option<Throttle>,
    addr_file: Option<String>,
    counts_out: Option<String>,
    max_runtime_s: u64,
}

fn parse(args: &[String]) -> Result<Args, String> {
    let mut out = Args {
        command: args.first().cloned().unwrap_or_default(),
        params: Params::default(),
        latency_ms: 40,
        port: 0,
        throttle: Some(Throttle::default()),
        vault_throttle: None,
        addr_file: None,
        counts_out: None,
        max_runtime_s: 7200,
    };
    let mut i = 1;
    while i < args.len() {
        let flag = args[i].as_str();
        if flag == "--no-throttle" {
            out.throttle = None;
            i += 1;
            continue;
        }
        if flag == "--drill" {
            out.params.drill = true;
            i += 1;
            continue;
        }
        let value = args
            .get(i + 1)
            .ok_or_else(|| format!("{flag} needs a value"))?;
        let number = |v: &str| {
            v.parse::<u64>()
                .map_err(|_| format!("{flag}: `{v}` is not a number"))
        };
        let float = |v: &str| {
            v.parse::<f64>()
                .map_err(|_| format!("{flag}: `{v}` is not a number"))
        };
        match flag {
            "--accounts" => out.params.accounts = number(value)? as usize,
            "--regions" => out.params.regions = number(value)? as usize,
            "--sources" => out.params.sources = number(value)? as usize,
            "--seed" => out.params.seed = number(value)?,
            "--as-of" => {
                out.params.as_of = time::parse_rfc3339(value)
                    .ok_or_else(|| format!("--as-of: `{value}` is not like 2026-06-01T06:00:00Z"))?
            }
            "--latency-ms" => out.latency_ms = number(value)?,
            "--port" => out.port = number(value)? as u16,
            "--rds-burst" => {
                out.throttle.get_or_insert_with(Throttle::default).burst = float(value)?
            }
            "--rds-rate" => out.throttle.get_or_insert_with(Throttle::default).rate = float(value)?,
            "--vault-rds-burst" => {
                out.vault_throttle
                    .get_or_insert_with(Throttle::default)
                    .burst = float(value)?
            }
            "--vault-rds-rate" => {
                out.vault_throttle
                    .get_or_insert_with(Throttle::default)
                    .rate = float(value)?
            }
            "--addr-file" => out.addr_file = Some(value.clone()),
            "--counts-out" => out.counts_out = Some(value.clone()),
            "--max-runtime-s" => out.max_runtime_s = number(value)?,
            other => return Err(format!("unknown flag {other}")),
        }
        i += 2;
    }
    if out.params.accounts < 3 {
        return Err("--accounts must be at least 3 (management, vault, one member)".into());
    }
    if out.params.regions == 0 || out.params.regions > fleetsim::fleet::REGIONS.len() {
        return Err(format!(
            "--regions must be 1..={}",
            fleetsim::fleet::REGIONS.len()
        ));
    }
    Ok(out)
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    if argv.is_empty() || argv.iter().any(|a| a == "--help" || a == "-h") {
        println!("{HELP}");
        return ExitCode::SUCCESS;
    }
    let args = match parse(&argv) {
        Ok(args) => args,
        Err(e) => {
            eprintln!("fleetsim: {e}\n\n{HELP}");
            return ExitCode::from(2);
        }
    };
    let started = Instant::now();
    let fleet = Fleet::generate(args.params.clone());
    let generated = started.elapsed();
    match args.command.as_str() {
        "rules" => {
            print!("{}", fleet.rules_toml());
            ExitCode::SUCCESS
        }
        "expected" => {
            let mut truth = fleet.truth_json();
            truth["generated_in_ms"] = serde_json::json!(generated.as_secs_f64() * 1000.0);
            println!("{truth:#}");
            ExitCode::SUCCESS
        }
        "serve" => serve(args, fleet, generated),
        other => {
            eprintln!("fleetsim: unknown command `{other}`\n\n{HELP}");
            ExitCode::from(2)
        }
    }
}

// The simulator's own `main`: its address goes to stdout, flushed for the bench script that waits on it.
#[allow(clippy::disallowed_methods)]
fn serve(args: Args, fleet: Fleet, generated: Duration) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("fleetsim: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let sources = fleet.params.sources;
        let accounts = fleet.accounts.len();
        let regions = fleet.regions.len();
        let sim = Sim::new(
            fleet,
            Config {
                latency: Duration::from_millis(args.latency_ms),
                throttle: args.throttle,
                vault_throttle: args.vault_throttle,
            },
        );
        let (addr, handle) = match server::start(sim.clone(), args.port).await {
            Ok(started) => started,
            Err(e) => {
                eprintln!("fleetsim: cannot listen on 127.0.0.1:{}: {e}", args.port);
                return ExitCode::FAILURE;
            }
        };
        eprintln!(
            "fleetsim: {accounts} accounts x {regions} regions, {sources} sources, generated in {:.0} ms; latency {} ms; throttle {}",
            generated.as_secs_f64() * 1000.0,
            args.latency_ms,
            args.throttle
                .map(|t| format!("burst {} refill {}/s per account-region", t.burst, t.rate))
                .unwrap_or_else(|| "off".into())
        );
        println!("listening http://{addr}");
        let _ = std::io::stdout().flush();
        if let Some(file) = &args.addr_file {
            if let Err(e) = std::fs::write(file, format!("http://{addr}\n")) {
                eprintln!("fleetsim: cannot write {file}: {e}");
            }
        }
        let stopper = sim.clone();
        let max = Duration::from_secs(args.max_runtime_s);
        tokio::spawn(async move {
            let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
            let terminated = async {
                match term.as_mut() {
                    Some(t) => {
                        t.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = terminated => {}
                _ = tokio::time::sleep(max) => eprintln!("fleetsim: --max-runtime-s reached, stopping"),
            }
            stopper.shutdown();
        });
        let _ = handle.await;
        let counts = format!("{:#}", sim.counts());
        eprintln!("fleetsim: calls {counts}");
        if let Some(file) = &args.counts_out {
            if let Err(e) = std::fs::write(file, counts + "\n") {
                eprintln!("fleetsim: cannot write {file}: {e}");
            }
        }
        ExitCode::SUCCESS
    })
}
