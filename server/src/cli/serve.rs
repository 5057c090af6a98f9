//! `zp serve`: the HTTP server.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use tokio::net::TcpListener;

use super::Global;
use crate::http::conn::{self, Limits};
use crate::http::ops;
use crate::http::throttle::AdminThrottle;
use crate::http::widget::WidgetBundle;
use crate::http::{AppState, CertificateCache, RateLimit, router};

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, env = "ZP_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,
    /// Fill an empty registry with demo data.
    #[arg(long)]
    pub demo: bool,
    /// Requests per second one client IP may make to public routes (bursts of twice that);
    /// 0 turns the limit off. Admin, /healthz and /metrics are never limited.
    #[arg(long, env = "ZP_RATE_LIMIT", default_value_t = 50)]
    pub rate_limit: u32,
    /// Certificates kept in memory for the public lookups (check API, verify API, pages), about
    /// 5 KB each; 0 turns the cache off. SQLite only: every write, this server's or the CLI's,
    /// empties it at once. On PostgreSQL every lookup reads the database.
    #[arg(long, env = "ZP_READ_CACHE", default_value_t = crate::http::cache::DEFAULT_ENTRIES)]
    pub read_cache: usize,
    /// Seconds a client has to send a request's headers, from the connection's opening or from
    /// the request's first byte; then the connection is closed. 0 turns the limit off.
    #[arg(long, env = "ZP_HEADER_TIMEOUT", default_value_t = 10)]
    pub header_timeout: u64,
    /// Seconds a client has to send a request's body, from the end of its headers; then 408.
    /// 0 turns the limit off.
    #[arg(long, env = "ZP_BODY_TIMEOUT", default_value_t = 30)]
    pub body_timeout: u64,
    /// Seconds a kept-alive connection may wait for its next request; then it is closed. 0 turns
    /// the limit off.
    #[arg(long, env = "ZP_IDLE_TIMEOUT", default_value_t = 60)]
    pub idle_timeout: u64,
    /// Connections one client IP (IPv6: one /64) may hold open at once; further ones are closed
    /// on arrival. 0 turns the cap off. Behind a reverse proxy every connection comes from the
    /// proxy: raise it or turn it off, and limit clients at the proxy.
    #[arg(long, env = "ZP_MAX_CONNECTIONS_PER_IP", default_value_t = 64)]
    pub max_connections_per_ip: usize,
    /// Failed admin authentications one client IP may make in a minute; then it waits before
    /// its next attempt (429 with Retry-After, 1 s, doubling with each further failure up to
    /// 15 min), whatever key it sends. 0 turns the throttle off.
    #[arg(long, env = "ZP_ADMIN_AUTH_FAILURES", default_value_t = 10)]
    pub admin_auth_failures: u32,
    /// Address of a listener of its own for Prometheus's `/metrics` (port 0: any free port);
    /// without it `/metrics` is not served at all. It shows the admin API's activity: keep it
    /// on a private address.
    #[arg(long, env = "ZP_METRICS_BIND")]
    pub metrics_bind: Option<SocketAddr>,
    /// An approval of an application needs two people: the first prepares it with the board's
    /// resolution, another confirms it, and only then is the certificate issued.
    #[arg(long, env = "ZP_SECOND_APPROVAL")]
    pub second_approval: bool,
    /// SMTP server for outgoing mail (reminders, digests): `smtp://HOST:PORT` (no TLS, or
    /// STARTTLS with `?tls=required`) or `smtps://HOST:PORT` (TLS from the start). User and
    /// password come from ZP_SMTP_USER and ZP_SMTP_PASSWORD. Without it nothing is sent: letters
    /// wait in the outbox (the panel shows them).
    #[arg(long, env = "ZP_SMTP_URL")]
    pub smtp_url: Option<String>,
    /// Sender of outgoing mail; default: `Zakup Prospołeczny <no-reply@HOST>`, HOST being the
    /// base URL's.
    #[arg(long, env = "ZP_MAIL_FROM")]
    pub mail_from: Option<String>,
    /// Letters per minute at most: many letters due at once leave spread over time.
    #[arg(long, env = "ZP_MAIL_RATE", default_value_t = 120,
          value_parser = clap::value_parser!(u32).range(1..=60_000))]
    pub mail_rate: u32,
    /// Seconds before a failed letter is tried again; each further retry waits twice as long, at
    /// most an hour (tests shorten it).
    #[arg(long, env = "ZP_MAIL_RETRY_AFTER", default_value_t = 30, hide = true,
          value_parser = clap::value_parser!(i64).range(1..=3_600))]
    pub mail_retry_after: i64,
    /// Directory of the badge bundle (`cargo xtask widget` writes target/widget/dist).
    #[arg(long, env = "ZP_WIDGET_DIR", default_value = "target/widget/dist")]
    pub widget_dir: std::path::PathBuf,
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("ZP_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Structured JSON lines on standard error; standard output carries the start-up message.
    let _ = tracing_subscriber::fmt().json().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}

pub async fn run(global: &Global, args: ServeArgs) -> Result<()> {
    init_logging();
    let listener =
        TcpListener::bind(args.bind).await.with_context(|| format!("cannot listen on {}", args.bind))?;
    let addr = listener.local_addr()?;
    let metrics_listener = match args.metrics_bind {
        Some(bind) => Some(
            TcpListener::bind(bind).await.with_context(|| format!("cannot listen on {bind} for /metrics"))?,
        ),
        None => None,
    };
    let issuer = Arc::new(global.open(Some(format!("http://{addr}"))).await?);
    let clock = global.clock();
    let demo =
        if args.demo { super::demo::seed(&issuer, &global.data_dir, clock.now()).await? } else { None };
    let base = issuer.settings.base_url.clone();
    let mut state = AppState::new(issuer, clock, RateLimit::per_second(args.rate_limit));
    state.demo = args.demo;
    state.admin_throttle = AdminThrottle::per_minute(args.admin_auth_failures);
    state.applications = Arc::new(crate::applications::Applications {
        second_approval: args.second_approval,
        ..crate::applications::Applications::new(state.issuer.clone(), state.outbox.clone())
    });
    if let Some(database) = sqlite_file(global) {
        state.certificates = Arc::new(CertificateCache::sqlite(&database, args.read_cache));
    }
    state.widget = match WidgetBundle::load(&args.widget_dir, &base) {
        Ok(bundle) => Some(Arc::new(bundle)),
        Err(err) => {
            tracing::warn!(dir = %args.widget_dir.display(), error = %err, "badge bundle not found; /widget/ answers 503");
            None
        }
    };
    let sender = mail_sender(&args, &base)?;
    // Before listening: once the server answers, this round's letters are in the outbox.
    mail_round(&state).await;
    tokio::spawn(housekeeping(state.clone()));
    tokio::spawn(mail_jobs(state.clone()));
    if let Some(sender) = sender {
        tokio::spawn(crate::mail::worker::run(
            state.issuer.store.clone(),
            state.clock,
            state.outbox.clone(),
            sender,
        ));
    }
    println!("listening on http://{addr}");
    println!("  registry:      {base}/");
    println!("  public API:    {base}/api/v1/openapi.json");
    println!("  keys (JWKS):   {base}/.well-known/jwks.json");
    if args.demo {
        println!("  demo shop:     {base}/demo");
    }
    if let Some(listener) = &metrics_listener {
        println!("  metrics:       http://{}/metrics", listener.local_addr()?);
    }
    println!("  apply:         {base}/apply");
    println!("  staff panel:   {}/panel", state.accounts.panel_url);
    if args.demo {
        // A newcomer signs in to the panel within a minute: a demo admin with a fresh link on each
        // start, while no one has enrolled yet.
        if let Some(link) = demo_admin(&state).await? {
            println!("  panel enrolment link for the demo admin (works once, for three days):");
            println!("    {link}");
        }
    }
    if let Some(demo) = &demo
        && let Some((renewable, _)) = demo.certificates.iter().find(|(_, fate)| fate == "expiring soon")
    {
        let ids = super::demo::seed_applications(&state.applications, renewable, clock.now()).await?;
        println!(
            "  applications:  {}/panel/applications ({} in every state of a case)",
            state.accounts.panel_url,
            ids.len()
        );
    }
    if let Some(demo) = &demo {
        println!("demo data loaded:");
        for (id, fate) in &demo.certificates {
            println!("  {fate:<14} {base}/v/{id}");
        }
        if let Some(key) = &demo.admin_key {
            println!(
                "  admin API key: {key} (saved in {})",
                global.data_dir.join("demo-admin-key.txt").display()
            );
        }
    }
    use std::io::Write;
    std::io::stdout().flush().ok();
    tracing::info!(
        %addr,
        base_url = %base,
        rate_limit = state.rate_limit.limit(),
        read_cache = state.certificates.is_enabled(),
        "listening"
    );
    let limits = Limits {
        header: Duration::from_secs(args.header_timeout),
        body: Duration::from_secs(args.body_timeout),
        idle: Duration::from_secs(args.idle_timeout),
        per_ip: args.max_connections_per_ip,
    };
    // One signal stops both listeners.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown().await;
        stop.send_replace(true);
    });
    let stopping = |mut stopped: tokio::sync::watch::Receiver<bool>| async move {
        stopped.wait_for(|stop| *stop).await.ok();
    };
    let metrics = metrics_listener.map(|listener| {
        conn::serve(listener, ops::metrics_router(state.clone()), limits, stopping(stopped.clone()))
    });
    let public = conn::serve(listener, router(state), limits, stopping(stopped));
    match metrics {
        Some(metrics) => {
            tokio::join!(public, metrics);
        }
        None => public.await,
    }
    Ok(())
}

/// The SQLite database file, when the store is one on disk: the read cache watches it for writes
/// (see `http::cache`). PostgreSQL, in-memory databases and URLs with options get no cache.
fn sqlite_file(global: &Global) -> Option<PathBuf> {
    match &global.database_url {
        None => Some(global.data_dir.join("zp.sqlite3")),
        Some(url) => {
            let path = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
            let plain = !path.is_empty() && !path.contains(['?', '#']) && !path.starts_with(":memory:");
            plain.then(|| PathBuf::from(path))
        }
    }
}

/// The SMTP sender of `--smtp-url`, `--mail-from` and `--mail-rate`; none without an SMTP URL.
fn mail_sender(args: &ServeArgs, base_url: &str) -> Result<Option<crate::mail::worker::Sender>> {
    let Some(url) = &args.smtp_url else {
        tracing::info!("no --smtp-url: letters wait in the outbox unsent");
        return Ok(None);
    };
    let user = std::env::var("ZP_SMTP_USER").ok().filter(|user| !user.is_empty());
    let password = std::env::var("ZP_SMTP_PASSWORD").ok();
    let transport = crate::mail::worker::transport(url, user, password)?;
    let from = match &args.mail_from {
        Some(from) => {
            from.parse().with_context(|| format!("--mail-from {from:?} is not an e-mail address"))?
        }
        None => crate::mail::compose::default_from(base_url)?,
    };
    Ok(Some(crate::mail::worker::Sender {
        transport,
        from,
        per_minute: args.mail_rate,
        retry_after: args.mail_retry_after,
    }))
}

/// Expiry reminders and the weekly digest, every minute after the round `serve` runs before it
/// listens. A round that wrote letters wakes the sending worker.
async fn mail_jobs(state: AppState) {
    let period = Duration::from_secs(60);
    let mut every = tokio::time::interval_at(crate::clock::tokio_instant() + period, period);
    loop {
        every.tick().await;
        mail_round(&state).await;
    }
}

/// One round of reminders and digest; how many letters it wrote.
async fn mail_round(state: &AppState) -> usize {
    let store = state.issuer.store.as_ref();
    let mut written = 0;
    match crate::mail::reminders::scan(store, &state.issuer.settings.base_url, state.now()).await {
        Ok(letters) => written += letters,
        Err(err) => tracing::warn!(error = %err, "the expiry reminders' scan failed"),
    }
    let sections = match state.applications.digest_section().await {
        Ok(section) => vec![section],
        Err(err) => {
            tracing::warn!(error = %err, "counting applications for the digest failed");
            Vec::new()
        }
    };
    match crate::mail::digest::weekly(store, &state.accounts.panel_url, state.now(), sections).await {
        Ok(letters) => written += letters,
        Err(err) => tracing::warn!(error = %err, "the weekly digest failed"),
    }
    if written > 0 {
        tracing::info!(letters = written, "reminders and digest written to the outbox");
        state.outbox.wake();
    }
    written
}

/// Keeps in-memory tables small: forgets idle clients of the rate limiter and the admin
/// throttle, and drains histogram samples Prometheus has not scraped.
/// The demo admin's enrolment link, while the demo admin has no passkey yet.
async fn demo_admin(state: &AppState) -> Result<Option<String>> {
    const EMAIL: &str = "admin@demo.zakup-prospoleczny.pl";
    let accounts = &state.accounts;
    let now = state.now();
    let link = match accounts.by_email(EMAIL).await? {
        None => accounts.create("demo", EMAIL, Some("Demo Admin"), crate::accounts::Role::Admin, now).await?,
        Some(account) if accounts.stored_passkeys(&account.id).await?.is_empty() => {
            accounts.reenrol("demo", &account.id, now).await?
        }
        Some(_) => return Ok(None),
    };
    Ok(Some(link.enrolment_url))
}

async fn housekeeping(state: AppState) {
    let mut every = tokio::time::interval(Duration::from_secs(60));
    loop {
        every.tick().await;
        state.rate_limit.forget_idle();
        state.admin_throttle.forget_quiet(crate::clock::instant());
        state.metrics.upkeep();
        if let Err(err) = state.accounts.purge(state.now()).await {
            tracing::warn!(error = %err, "removing ended panel sessions failed");
        }
        if let Err(err) = state.applications.purge(state.now()).await {
            tracing::warn!(error = %err, "removing ended applicants' sessions and links failed");
        }
    }
}

async fn shutdown() {
    let ctrl_c = async {
        tokio::signal::ctrl_c().await.ok();
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
