//! The e-mailed report against a real SMTP server: aiosmtpd (the venv
//! `scripts/setup.sh` makes) on its own 127.0.0.x address per test, in each
//! TLS mode, with and without AUTH. The received message is parsed
//! (mail-parser), the workbook opened (calamine) and the CSV read back; the
//! failures are checked for their stable codes; the sentinel password is
//! looked for in logs, errors, `Debug` output and every file of the data
//! directory. One test drives the collector's scheduled send through a
//! failure and back.

use std::io::{Cursor, Read};
use std::net::{IpAddr, Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use calamine::{Data, Reader, Xlsx, open_workbook_from_rs};
use mail_parser::{MessageParser, MimeHeaders};
use printscout_engine::config::Config;
use printscout_engine::printer::{Reading, Supply, SupplyState};
use printscout_engine::secret::Secret;
use printscout_engine::secrets::{MemoryStore, SMTP_PASSWORD, SecretStore};
use printscout_engine::snmp::{Credential, Version};
use printscout_engine::store::{PollKind, PollOutcome, PollResult, Rules, Store, now_ms};
use printscout_engine::uplink::email::{
    self, EmailError, META_COVERED_UNTIL, SendOptions, SentReport,
};
use printscout_testkit::smtp::{Received, SmtpPeer, SmtpPeerOptions, SmtpTls};

const SENTINEL: &str = "SENTINEL-smtp-7f3a";
const HOUR: i64 = 3_600_000;

// ---------------------------------------------------------------------------
// Logs

use printscout_testkit::logs::{capture_logs, logs_text};

// ---------------------------------------------------------------------------
// Certificates

struct TestCa {
    _dir: tempfile::TempDir,
    ca_file: PathBuf,
    cert_pem: String,
    key_pem: String,
}

/// A CA and a server certificate for `ip` signed by it.
fn test_ca(ip: IpAddr) -> TestCa {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
        KeyPair, KeyUsagePurpose,
    };
    let ca_key = KeyPair::generate().expect("a CA key");
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "PrintScout SMTP test CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca.self_signed(&ca_key).expect("the CA certificate");
    let issuer = Issuer::new(ca, ca_key);
    let leaf_key = KeyPair::generate().expect("a server key");
    let mut leaf = CertificateParams::new(vec![ip.to_string()]).expect("server params");
    leaf.distinguished_name
        .push(DnType::CommonName, ip.to_string());
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let leaf_cert = leaf
        .signed_by(&leaf_key, &issuer)
        .expect("the server certificate");
    let dir = tempfile::tempdir().expect("a temp dir for the CA");
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca_cert.pem()).expect("write ca.pem");
    TestCa {
        _dir: dir,
        ca_file,
        cert_pem: leaf_cert.pem(),
        key_pem: leaf_key.serialize_pem(),
    }
}

fn ip(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
}

// ---------------------------------------------------------------------------
// A data directory with three printers

fn reading(serial: &str, total: i64, toner: f64, errors: &[&str]) -> Reading {
    let mut r = Reading {
        is_printer: true,
        device_kind: "printer".into(),
        ..Reading::default()
    };
    r.identity.vendor = Some("HP".into());
    r.identity.model = Some("LaserJet M404".into());
    r.identity.serial = Some(serial.to_string());
    r.identity.hostname = Some(format!("prn-{serial}"));
    r.counters = [("total".to_string(), total), ("mono".to_string(), total)]
        .into_iter()
        .collect();
    r.status.overall = if errors.is_empty() { "ok" } else { "error" }.into();
    r.status.errors = errors.iter().map(|e| e.to_string()).collect();
    r.supplies = vec![Supply {
        index: Some(1),
        description: "Black Toner".into(),
        kind: Some("toner".into()),
        color: Some("black".into()),
        class: Some("supplyThatIsConsumed".into()),
        unit: Some("percent".into()),
        level: Some(toner as i64),
        max: Some(100),
        percent: Some(toner),
        state: SupplyState::Percent(toner),
        remaining_pages: None,
        source: None,
    }];
    r
}

fn record(store: &mut Store, address: &str, at: i64, r: Reading) {
    store
        .record(
            &PollResult {
                device_id: None,
                address: address.into(),
                kind: PollKind::Meters,
                at,
                outcome: PollOutcome::Read {
                    reading: Box::new(r),
                    credential: Some(Credential::community(
                        "office",
                        Version::V2c,
                        "office-secret",
                    )),
                },
            },
            &Rules::default(),
        )
        .expect("record a reading");
}

struct Site {
    dir: tempfile::TempDir,
    data: PathBuf,
    store_path: PathBuf,
}

/// Three printers: VNB0001 read twice (1,000 then 1,250 pages), VNB0002
/// jammed with its toner at 10 %, VNB0003 read only two days ago.
fn site() -> Site {
    let dir = tempfile::tempdir().expect("a temp dir");
    let data = dir.path().join("data");
    let mut store = Store::open_in(&data).expect("open the store");
    let now = now_ms();
    record(
        &mut store,
        "10.9.0.1:161",
        now - 3 * HOUR,
        reading("VNB0001", 1_000, 80.0, &[]),
    );
    record(
        &mut store,
        "10.9.0.1:161",
        now - HOUR,
        reading("VNB0001", 1_250, 78.0, &[]),
    );
    record(
        &mut store,
        "10.9.0.2:161",
        now - HOUR,
        reading("VNB0002", 500, 10.0, &["jammed"]),
    );
    record(
        &mut store,
        "10.9.0.3:161",
        now - 48 * HOUR,
        reading("VNB0003", 77, 50.0, &[]),
    );
    let store_path = store.path().to_path_buf();
    Site {
        dir,
        data,
        store_path,
    }
}

fn config(smtp_url: &str) -> Config {
    let mut c = Config::default();
    c.email.smtp_url = smtp_url.to_string();
    c.email.from = "PrintScout <printscout@site.test>".into();
    c.email.to = vec!["a@example.test".into(), "b@example.test".into()];
    c
}

fn day() -> (i64, i64) {
    let now = now_ms();
    (now - 24 * HOUR, now)
}

fn no_secrets() -> Arc<dyn SecretStore> {
    Arc::new(MemoryStore::new())
}

fn with_password(p: &str) -> Arc<dyn SecretStore> {
    let s = MemoryStore::new();
    s.set(SMTP_PASSWORD, &Secret::new(p))
        .expect("set the password");
    Arc::new(s)
}

async fn send(
    site: &Site,
    c: &Config,
    secrets: Arc<dyn SecretStore>,
) -> Result<SentReport, EmailError> {
    capture_logs();
    email::send_report(c, secrets, &site.store_path, day()).await
}

fn meta(site: &Site, key: &str) -> Option<String> {
    Store::open(&site.store_path)
        .expect("open the store")
        .meta(key)
        .expect("read meta")
}

// ---------------------------------------------------------------------------
// What arrived

struct Parsed {
    subject: String,
    body: String,
    period: String,
    attachments: Vec<(String, String, Vec<u8>)>,
}

fn parse(m: &Received) -> Parsed {
    let msg = MessageParser::default()
        .parse(&m.raw)
        .expect("the message parses");
    Parsed {
        subject: msg.subject().unwrap_or_default().to_string(),
        body: msg.body_text(0).unwrap_or_default().into_owned(),
        period: msg
            .header_raw("X-PrintScout-Period")
            .unwrap_or_default()
            .trim()
            .to_string(),
        attachments: msg
            .attachments()
            .map(|a| {
                (
                    a.attachment_name().unwrap_or_default().to_string(),
                    a.content_type()
                        .map(|c| format!("{}/{}", c.ctype(), c.subtype().unwrap_or_default()))
                        .unwrap_or_default(),
                    a.contents().to_vec(),
                )
            })
            .collect(),
    }
}

/// The Meters sheet as text rows.
fn meters_sheet(bytes: &[u8]) -> Vec<Vec<String>> {
    let mut wb: Xlsx<_> =
        open_workbook_from_rs(Cursor::new(bytes.to_vec())).expect("the workbook opens");
    let range = wb.worksheet_range("Meters").expect("the Meters sheet");
    range
        .rows()
        .map(|row| {
            row.iter()
                .map(|c| match c {
                    Data::Float(f) => format!("{f}"),
                    Data::Int(i) => i.to_string(),
                    other => other.to_string(),
                })
                .collect()
        })
        .collect()
}

fn column(rows: &[Vec<String>], name: &str) -> usize {
    rows[0]
        .iter()
        .position(|h| h == name)
        .unwrap_or_else(|| panic!("no column {name} in {:?}", rows[0]))
}

// ---------------------------------------------------------------------------
// Tests

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_reaches_a_plain_lan_relay_with_the_body_and_both_attachments() {
    let site = site();
    let peer = SmtpPeer::start(&SmtpPeerOptions::plain(ip(61)));
    let c = config(&peer.url("smtp"));
    let sent = send(&site, &c, no_secrets())
        .await
        .expect("the report is sent");
    assert_eq!(sent.recipients, vec!["a@example.test", "b@example.test"]);
    assert!(!sent.encrypted);
    assert!(sent.response.starts_with("250"), "{}", sent.response);

    let got = peer.wait_for(1, Duration::from_secs(10));
    let m = &got[0];
    assert_eq!(m.mail_from, "printscout@site.test");
    assert_eq!(m.rcpt_tos, vec!["a@example.test", "b@example.test"]);
    assert!(!m.encrypted);
    let p = parse(m);
    let today = chrono::Local::now().format("%Y-%m-%d").to_string();
    assert_eq!(
        p.subject,
        format!("PrintScout report {today}: 3 printers, 1 not read, 1 error, 1 supply low")
    );
    assert!(
        p.body
            .contains("3 printers monitored: 2 read in this period, 1 not read."),
        "{}",
        p.body
    );
    assert!(p.body.contains("Errors open (1):"), "{}", p.body);
    assert!(p.body.contains("VNB0002"), "{}", p.body);
    assert!(p.body.contains("Black Toner is low (10%)"), "{}", p.body);
    assert!(
        p.body.contains("Not read in this period (1):"),
        "{}",
        p.body
    );
    assert!(p.body.contains("VNB0003"), "{}", p.body);
    let (from, to) = (sent.from, sent.to);
    assert_eq!(
        p.period,
        format!("{}/{}", email::rfc3339(from), email::rfc3339(to))
    );

    let names: Vec<&str> = p.attachments.iter().map(|a| a.0.as_str()).collect();
    assert_eq!(
        names,
        vec![
            format!("printscout-meters-{today}.xlsx"),
            format!("printscout-meters-{today}.csv")
        ]
    );
    assert_eq!(
        p.attachments[0].1,
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    assert_eq!(p.attachments[1].1, "text/csv");

    // The workbook: VNB0001's total went from 1,000 to 1,250 in the period.
    let rows = meters_sheet(&p.attachments[0].2);
    let serial = column(&rows, "Serial");
    let row = rows
        .iter()
        .find(|r| r[serial] == "VNB0001")
        .expect("VNB0001 in the workbook");
    let first = rows[0]
        .iter()
        .position(|h| h.starts_with("total") && h.contains("first"))
        .expect("a first total column");
    let last = rows[0]
        .iter()
        .position(|h| h.starts_with("total") && h.contains("last"))
        .expect("a last total column");
    assert_eq!(row[first], "1000");
    assert_eq!(row[last], "1250");

    // The CSV: the same numbers.
    let mut text = String::new();
    Cursor::new(&p.attachments[1].2)
        .read_to_string(&mut text)
        .expect("the CSV is UTF-8");
    let text = text.trim_start_matches('\u{feff}');
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("a header").split(',').collect();
    let row: Vec<&str> = lines
        .find(|l| l.contains("VNB0001"))
        .expect("VNB0001 in the CSV")
        .split(',')
        .collect();
    let at = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .unwrap_or_else(|| panic!("{name} in {header:?}"))
    };
    assert_eq!(row[at("total_first")], "1000");
    assert_eq!(row[at("total_last")], "1250");
    assert_eq!(row[at("total_usage")], "250");

    assert!(meta(&site, email::META_LAST_EMAIL).is_some());
    assert_eq!(meta(&site, email::META_LAST_EMAIL_ERROR), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starttls_with_the_site_ca_in_email_ca_file_encrypts_the_session() {
    let site = site();
    let ca = test_ca(ip(62));
    let peer = SmtpPeer::start(&SmtpPeerOptions::plain(ip(62)).tls(
        SmtpTls::StarttlsRequired,
        &ca.cert_pem,
        &ca.key_pem,
    ));
    let mut c = config(&peer.url("smtp"));
    c.email.ca_file = Some(ca.ca_file.clone());
    let sent = send(&site, &c, no_secrets())
        .await
        .expect("sent over STARTTLS");
    assert!(sent.encrypted);
    let got = peer.wait_for(1, Duration::from_secs(10));
    assert!(got[0].encrypted, "the peer saw an unencrypted session");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn implicit_tls_on_smtps_delivers() {
    let site = site();
    let ca = test_ca(ip(63));
    let peer = SmtpPeer::start(&SmtpPeerOptions::plain(ip(63)).tls(
        SmtpTls::Implicit,
        &ca.cert_pem,
        &ca.key_pem,
    ));
    let mut c = config(&peer.url("smtps"));
    c.email.ca_file = Some(ca.ca_file.clone());
    let sent = send(&site, &c, no_secrets())
        .await
        .expect("sent over smtps");
    assert!(sent.encrypted);
    assert!(peer.wait_for(1, Duration::from_secs(10))[0].encrypted);
}

/// Every file under `dir`, read whole.
fn files_under(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).expect("read a directory").flatten() {
            let p = e.path();
            if p.is_dir() {
                todo.push(p);
            } else if let Ok(bytes) = std::fs::read(&p) {
                out.push((p, bytes));
            }
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_with_the_stored_password_is_accepted_and_the_password_shows_nowhere() {
    let site = site();
    let ca = test_ca(ip(64));
    let peer = SmtpPeer::start(
        &SmtpPeerOptions::plain(ip(64))
            .tls(SmtpTls::Starttls, &ca.cert_pem, &ca.key_pem)
            .auth("mailer", SENTINEL),
    );
    let mut c = config(&peer.url("smtp"));
    c.email.ca_file = Some(ca.ca_file.clone());
    c.email.user = "mailer".into();
    let secrets = with_password(SENTINEL);
    let sent = send(&site, &c, secrets.clone())
        .await
        .expect("sent with AUTH");
    assert!(sent.authenticated && sent.encrypted);
    let got = peer.wait_for(1, Duration::from_secs(10));
    assert_eq!(got[0].auth_user.as_deref(), Some("mailer"));
    assert!(peer.log().contains("as mailer: accepted"), "{}", peer.log());

    // A wrong password, on the same server: refused, in words, no sentinel.
    let wrong = with_password(&format!("{SENTINEL}-wrong"));
    let e = send(&site, &c, wrong)
        .await
        .expect_err("a wrong password fails");
    assert_eq!(e.code(), "smtp_auth_failed", "{e}");
    assert!(e.to_string().contains("mailer"), "{e}");
    let recorded = meta(&site, email::META_LAST_EMAIL_ERROR).expect("the failure is recorded");
    assert!(recorded.contains("smtp_auth_failed"), "{recorded}");

    let base64_plain = base64(format!("\0mailer\0{SENTINEL}").as_bytes());
    let shown = [
        e.to_string(),
        format!("{e:?}"),
        format!("{sent:?}"),
        format!("{c:?}"),
        format!("{secrets:?}"),
        serde_json::to_string(&sent).expect("SentReport serialises"),
        logs_text(),
    ];
    for text in &shown {
        assert!(!text.contains(SENTINEL), "the password shows in: {text}");
        assert!(
            !text.contains(&base64_plain),
            "the AUTH PLAIN string shows in: {text}"
        );
    }
    for (path, bytes) in files_under(&site.data) {
        assert!(
            !contains(&bytes, SENTINEL) && !contains(&bytes, &base64_plain),
            "the password is in {}",
            path.display()
        );
    }
}

fn base64(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            out.push(if i <= chunk.len() {
                char::from(T[((n >> (18 - 6 * i)) & 63) as usize])
            } else {
                '='
            });
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_password_is_never_sent_without_tls_unless_the_url_says_tls_none() {
    let site = site();
    let peer = SmtpPeer::start(&SmtpPeerOptions {
        auth_over_plain: true,
        ..SmtpPeerOptions::plain(ip(65)).auth("mailer", SENTINEL)
    });
    let mut c = config(&peer.url("smtp"));
    c.email.user = "mailer".into();
    let e = send(&site, &c, with_password(SENTINEL))
        .await
        .expect_err("no STARTTLS, so no password");
    assert_eq!(e.code(), "smtp_tls_error", "{e}");
    assert!(e.to_string().contains("?tls=none"), "{e}");
    assert!(
        !peer.log().contains("smtp-peer: AUTH"),
        "AUTH was tried: {}",
        peer.log()
    );

    c.email.smtp_url = format!("{}?tls=none", peer.url("smtp"));
    let sent = send(&site, &c, with_password(SENTINEL))
        .await
        .expect("the user allowed it in clear");
    assert!(sent.authenticated && !sent.encrypted);
    assert_eq!(
        peer.wait_for(1, Duration::from_secs(10))[0]
            .auth_user
            .as_deref(),
        Some("mailer")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_certificate_is_smtp_tls_error_in_words() {
    let site = site();
    let ca = test_ca(ip(66));
    for (mode, scheme) in [
        (SmtpTls::StarttlsRequired, "smtp"),
        (SmtpTls::Implicit, "smtps"),
    ] {
        let peer =
            SmtpPeer::start(&SmtpPeerOptions::plain(ip(66)).tls(mode, &ca.cert_pem, &ca.key_pem));
        // No ca_file: the test CA is not trusted.
        let e = send(&site, &config(&peer.url(scheme)), no_secrets())
            .await
            .expect_err("an unknown issuer is refused");
        assert_eq!(e.code(), "smtp_tls_error", "{scheme}: {e}");
        assert!(e.to_string().contains("unknown issuer"), "{scheme}: {e}");
        assert!(e.to_string().contains("email.ca_file"), "{scheme}: {e}");
        assert!(peer.messages().is_empty());
    }
    let recorded = meta(&site, email::META_LAST_EMAIL_ERROR).expect("recorded");
    assert!(recorded.contains("smtp_tls_error"), "{recorded}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_is_down_is_smtp_connect_failed() {
    let site = site();
    let closed = printscout_testkit::ClosedTcpPort::on([127, 0, 0, 67].into());
    let port = closed.port();
    let e = send(
        &site,
        &config(&format!("smtp://127.0.0.67:{port}")),
        no_secrets(),
    )
    .await
    .expect_err("nothing listens");
    assert_eq!(e.code(), "smtp_connect_failed", "{e}");
    assert!(e.to_string().contains("connection refused"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_never_greets_is_smtp_timeout() {
    let site = site();
    let listener = TcpListener::bind((ip(68), 0)).expect("bind a port");
    let port = listener.local_addr().expect("its address").port();
    let options = SendOptions {
        connect_timeout: Duration::from_millis(700),
        send_timeout: Duration::from_secs(5),
    };
    let c = config(&format!("smtp://127.0.0.68:{port}"));
    let started = std::time::Instant::now();
    let e = email::send_report_with(&c, no_secrets(), &site.store_path, day(), &options)
        .await
        .expect_err("no greeting");
    assert_eq!(e.code(), "smtp_timeout", "{e}");
    assert!(e.to_string().contains("smtps://"), "{e}");
    assert!(started.elapsed() < Duration::from_secs(4));
    drop(listener);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_settings_and_a_missing_password_are_named() {
    let site = site();
    let e = send(&site, &Config::default(), no_secrets())
        .await
        .expect_err("no [email]");
    assert_eq!(e.code(), "email_not_configured");
    assert!(e.to_string().contains("email.smtp_url"), "{e}");

    let mut c = config("smtp://127.0.0.69:2525");
    c.email.to.clear();
    let e = send(&site, &c, no_secrets())
        .await
        .expect_err("no recipient");
    assert_eq!(e.code(), "email_not_configured");
    assert!(e.to_string().contains("email.to"), "{e}");

    let mut c = config("smtp://127.0.0.69:2525");
    c.email.user = "mailer".into();
    let e = send(&site, &c, no_secrets())
        .await
        .expect_err("no password stored");
    assert_eq!(e.code(), "smtp_password_missing");
    assert!(
        e.to_string()
            .contains("printscout secret set smtp-password"),
        "{e}"
    );
}

// ---------------------------------------------------------------------------
// The collector's scheduled send

struct NoPoller;

impl printscout_engine::collector::poller::Poller for NoPoller {
    fn poll<'a>(
        &'a self,
        target: &'a printscout_engine::collector::poller::PollTarget,
    ) -> futures::future::BoxFuture<'a, (String, PollOutcome)> {
        Box::pin(async move {
            (
                target.address.clone().unwrap_or_default(),
                PollOutcome::Failed {
                    error: "not polled in this test".into(),
                },
            )
        })
    }
}

async fn wait_until(what: &str, timeout: Duration, mut ok: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + timeout;
    while !ok() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_scheduled_send_is_recorded_and_the_next_one_covers_the_missed_period() {
    use printscout_engine::collector::{self, Settings, clock::SystemClock};
    capture_logs();
    let site = site();
    let peer = SmtpPeer::start(&SmtpPeerOptions::plain(ip(70)));
    let dead_port = {
        let l = TcpListener::bind((ip(71), 0)).expect("bind a port");
        l.local_addr().expect("its address").port()
    };
    let working = config(&peer.url("smtp"));
    let broken = config(&format!("smtp://127.0.0.71:{dead_port}"));
    let settings = |c: &Config| {
        Settings {
            report_every: Duration::from_secs(2),
            report_at: None,
            reports_dir: Some(site.dir.path().join("reports")),
            ..Settings::default()
        }
        .with_email(c, no_secrets())
    };
    let store = Store::open(&site.store_path).expect("open the store");
    let handle = collector::start(
        settings(&working),
        store,
        Arc::new(NoPoller),
        Arc::new(SystemClock),
    );
    let covered =
        || -> Option<i64> { meta(&site, META_COVERED_UNTIL).and_then(|v| v.parse().ok()) };
    // 1. A scheduled report goes out and marks the end of what it covered.
    peer.wait_for(1, Duration::from_secs(20));
    wait_until("the covered mark", Duration::from_secs(10), || {
        covered().is_some()
    })
    .await;
    let mark = covered().expect("a covered mark");
    assert!(
        peer.messages()
            .iter()
            .any(|m| parse(m).period.split('/').nth(1) == Some(email::rfc3339(mark).as_str())),
        "no message ends at the covered mark"
    );

    // 2. The server is unreachable: the failure is recorded, the mark stays.
    handle.reconfigure(settings(&broken), Arc::new(NoPoller));
    wait_until("a recorded failure", Duration::from_secs(20), || {
        meta(&site, email::META_LAST_EMAIL_ERROR).is_some_and(|e| e.contains("smtp_connect_failed"))
    })
    .await;
    let mark = covered().expect("a covered mark");
    let delivered_before = peer.messages().len();
    // Let at least one more interval fail, so there is a real gap.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert_eq!(
        covered(),
        Some(mark),
        "a failed send must not move the covered mark"
    );

    // 3. Back: the next report starts where the last one sent ended.
    handle.reconfigure(settings(&working), Arc::new(NoPoller));
    let got = peer.wait_for(delivered_before + 1, Duration::from_secs(20));
    let next = parse(&got[delivered_before]);
    let (from, to) = next.period.split_once('/').expect("a period header");
    assert_eq!(
        from,
        email::rfc3339(mark),
        "the missed period is not covered"
    );
    assert!(to > from);
    wait_until("the error cleared", Duration::from_secs(10), || {
        meta(&site, email::META_LAST_EMAIL_ERROR).is_none()
    })
    .await;
    handle.shutdown().await;
    assert!(!logs_text().contains(SENTINEL));
}
