//! Reading devices through the real transport, against real agents on loopback:
//! snmpsim (our synthetic recordings in `tests/recordings`) and net-snmp `snmpd`,
//! plus a hostile UDP peer that answers garbage. Each test starts the peers it
//! needs and stops them by PID when it ends.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use printscout_engine::printer::{ReadError, Reading, read_device};
use printscout_engine::secret::Secret;
use printscout_engine::snmp::transport::SnmpTransport;
use printscout_engine::snmp::{AuthProto, Credential, PrivProto, SnmpOptions, Version};
use printscout_testkit::{SilentUdpPort, Snmpd, Snmpsim, V3User, free_udp_port, recordings_dir};

fn opts(timeout_ms: u64, retries: u32) -> SnmpOptions {
    SnmpOptions {
        timeout: Duration::from_millis(timeout_ms),
        retries,
        ..SnmpOptions::default()
    }
}

fn v2c(name: &str, community: &str) -> Credential {
    Credential::community(name, Version::V2c, community)
}

async fn read(addr: SocketAddr, creds: &[Credential]) -> Result<Reading, ReadError> {
    read_device(&SnmpTransport::new(0), addr, creds, &opts(1500, 1)).await
}

#[tokio::test]
async fn every_synthetic_recording_reads_through_snmpsim_without_errors() {
    let sim = Snmpsim::start(&recordings_dir());
    for stem in [
        "mono-laser",
        "colour-mfp",
        "alerts-errors",
        "sentinel-supplies",
        "windows-print-server",
        "brother-blob",
    ] {
        let r = read(sim.addr, &[v2c(stem, stem)])
            .await
            .unwrap_or_else(|e| panic!("{stem}: {e}"));
        assert!(
            r.identity.uptime_seconds.is_some(),
            "{stem}: sysUpTime read"
        );
        assert_eq!(r.credential.as_deref(), Some(stem));
        assert!(
            r.stats.requests >= 1 && r.stats.requests <= 8,
            "{stem}: {} requests",
            r.stats.requests
        );
        assert_eq!(r.stats.stalled_walks, 0, "{stem}");
    }
}

#[tokio::test]
async fn a_windows_print_server_is_not_a_printer_but_a_laser_is() {
    let sim = Snmpsim::start(&recordings_dir());
    let host = read(sim.addr, &[v2c("w", "windows-print-server")])
        .await
        .expect("read");
    assert!(!host.is_printer, "{}", host.classification);
    let laser = read(sim.addr, &[v2c("m", "mono-laser")])
        .await
        .expect("read");
    assert!(laser.is_printer, "{}", laser.classification);
}

#[tokio::test]
async fn snmpv1_reads_the_same_printer_with_getnext() {
    let sim = Snmpsim::start(&recordings_dir());
    let v1 = read(
        sim.addr,
        &[Credential::community("v1", Version::V1, "mono-laser")],
    )
    .await
    .expect("v1 read");
    let v2 = read(sim.addr, &[v2c("v2", "mono-laser")])
        .await
        .expect("v2c read");
    assert_eq!(v1.snmp_version.as_deref(), Some("1"));
    assert_eq!(v1.identity.serial, v2.identity.serial);
    assert_eq!(v1.counters, v2.counters);
    assert_eq!(v1.supplies.len(), v2.supplies.len());
    assert_eq!(v1.trays.len(), v2.trays.len());
}

#[tokio::test]
async fn net_snmp_snmpd_serves_the_same_printer_and_it_reads_the_same() {
    let rec = recordings_dir().join("mono-laser.snmprec");
    let snmpd = Snmpd::start_on_free_port(&rec, "public");
    let sim = Snmpsim::start(&recordings_dir());
    let a = read(snmpd.addr(), &[v2c("public", "public")])
        .await
        .expect("snmpd read");
    let b = read(sim.addr, &[v2c("m", "mono-laser")])
        .await
        .expect("snmpsim read");
    assert!(a.is_printer);
    assert_eq!(a.identity.serial, b.identity.serial);
    assert_eq!(a.identity.model, b.identity.model);
    assert_eq!(a.counters, b.counters);
    let levels = |r: &Reading| {
        r.supplies
            .iter()
            .map(|s| (s.index, s.level, s.max))
            .collect::<Vec<_>>()
    };
    assert_eq!(levels(&a), levels(&b));
}

#[tokio::test]
async fn an_unreachable_host_fails_within_timeout_times_attempts() {
    let held = SilentUdpPort::new();
    let dead = held.addr();
    let t0 = Instant::now();
    let err = read_device(
        &SnmpTransport::new(0),
        dead,
        &[v2c("public", "public")],
        &opts(300, 1),
    )
    .await
    .expect_err("nothing listens there");
    let took = t0.elapsed();
    assert!(matches!(err, ReadError::NoAnswer { .. }), "{err}");
    assert!(
        took >= Duration::from_millis(550),
        "gave up early: {took:?}"
    );
    assert!(
        took < Duration::from_millis(2500),
        "took {took:?} for 2 × 300 ms"
    );
    assert!(err.to_string().contains("no answer from"), "{err}");
}

#[tokio::test]
async fn several_dead_credentials_still_cost_one_timeout_not_one_each() {
    let held = SilentUdpPort::new();
    let dead = held.addr();
    let creds: Vec<_> = (1..=4)
        .map(|i| v2c(&format!("community #{i}"), &format!("secret-{i}")))
        .collect();
    let t0 = Instant::now();
    // 1 s per credential: one after another would take 4 s.
    let err = read_device(&SnmpTransport::new(0), dead, &creds, &opts(500, 1))
        .await
        .expect_err("dead");
    assert!(
        t0.elapsed() < Duration::from_millis(3000),
        "{:?}",
        t0.elapsed()
    );
    let msg = err.to_string();
    for i in 1..=4 {
        assert!(
            msg.contains(&format!("community #{i}")),
            "names every credential tried: {msg}"
        );
    }
    assert!(!msg.contains("secret-"), "never the values: {msg}");
}

#[tokio::test]
async fn the_first_community_in_order_that_answers_is_used_and_reported() {
    let sim = Snmpsim::start(&recordings_dir());
    let creds = [
        v2c("wrong", "no-such-community"),
        v2c("laser", "mono-laser"),
        v2c("mfp", "colour-mfp"),
    ];
    let r = read(sim.addr, &creds).await.expect("one of them answers");
    assert_eq!(r.credential.as_deref(), Some("laser"));
}

#[tokio::test]
async fn a_wrong_community_says_which_credentials_were_tried_by_name_only() {
    let sim = Snmpsim::start(&recordings_dir());
    let creds = [
        v2c("office", "very-secret-1"),
        v2c("backup", "very-secret-2"),
    ];
    let err = read_device(&SnmpTransport::new(0), sim.addr, &creds, &opts(300, 0))
        .await
        .expect_err("wrong");
    let msg = err.to_string();
    assert!(
        msg.contains("'office'") && msg.contains("'backup'"),
        "{msg}"
    );
    assert!(!msg.contains("very-secret"), "{msg}");
    assert!(
        !format!("{err:?}").contains("very-secret"),
        "Debug must not leak either"
    );
}

fn v3(
    user: &str,
    auth: Option<(AuthProto, &str)>,
    privacy: Option<(PrivProto, &str)>,
    ctx: &str,
) -> Credential {
    Credential::V3 {
        name: user.into(),
        user: user.into(),
        auth: auth.map(|(p, k)| (p, Secret::new(k))),
        privacy: privacy.map(|(p, k)| (p, Secret::new(k))),
        context: ctx.into(),
    }
}

fn v3_sim() -> Snmpsim {
    Snmpsim::start_with_v3(
        &recordings_dir(),
        &[
            V3User::auth("reader", "SHA", "reader-auth-key"),
            V3User::auth_priv(
                "secure",
                "SHA256",
                "secure-auth-key",
                "AES",
                "secure-priv-key",
            ),
            V3User::auth_priv(
                "strong",
                "SHA512",
                "strong-auth-key",
                "AES256",
                "strong-priv-key",
            ),
            V3User::auth_priv("legacy", "MD5", "legacy-auth-key", "DES", "legacy-priv-key"),
        ],
    )
}

#[tokio::test]
async fn snmpv3_auth_no_priv_and_auth_priv_read_the_printer_in_its_context() {
    let sim = v3_sim();
    let plain = read(sim.addr, &[v2c("m", "v3-printer")])
        .await
        .expect("v2c read");
    for cred in [
        v3(
            "reader",
            Some((AuthProto::Sha1, "reader-auth-key")),
            None,
            "v3-printer",
        ),
        v3(
            "secure",
            Some((AuthProto::Sha256, "secure-auth-key")),
            Some((PrivProto::Aes128, "secure-priv-key")),
            "v3-printer",
        ),
        v3(
            "strong",
            Some((AuthProto::Sha512, "strong-auth-key")),
            Some((PrivProto::Aes256, "strong-priv-key")),
            "v3-printer",
        ),
        v3(
            "legacy",
            Some((AuthProto::Md5, "legacy-auth-key")),
            Some((PrivProto::Des, "legacy-priv-key")),
            "v3-printer",
        ),
    ] {
        let name = cred.name().to_string();
        let r = read(sim.addr, &[cred])
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(r.snmp_version.as_deref(), Some("3"));
        assert_eq!(r.identity.serial, plain.identity.serial, "{name}");
        assert_eq!(r.counters, plain.counters, "{name}");
        assert!(r.is_printer, "{name}");
    }
}

#[tokio::test]
async fn a_wrong_snmpv3_key_is_an_authentication_failure_never_a_reading() {
    let sim = v3_sim();
    for (cred, what) in [
        (
            v3(
                "reader",
                Some((AuthProto::Sha1, "not-the-auth-key")),
                None,
                "v3-printer",
            ),
            "auth",
        ),
        (
            v3(
                "secure",
                Some((AuthProto::Sha256, "secure-auth-key")),
                Some((PrivProto::Aes128, "not-the-priv-key")),
                "v3-printer",
            ),
            "priv",
        ),
        (
            v3(
                "nobody",
                Some((AuthProto::Sha1, "whatever-key")),
                None,
                "v3-printer",
            ),
            "user",
        ),
    ] {
        let err = read_device(&SnmpTransport::new(0), sim.addr, &[cred], &opts(1000, 0))
            .await
            .expect_err("must not succeed");
        let msg = err.to_string();
        assert!(matches!(err, ReadError::Auth { .. }), "{what}: {msg}");
        assert!(msg.contains("authentication failed"), "{what}: {msg}");
        assert!(
            !msg.contains("not-the-"),
            "{what}: the key must not be printed: {msg}"
        );
    }
}

/// A UDP peer that answers every datagram with garbage: truncated echoes,
/// random bytes, and a BER header claiming 4 GB.
async fn hostile_agent() -> SocketAddr {
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = sock.local_addr().expect("addr");
    tokio::spawn(async move {
        let mut buf = vec![0u8; 65536];
        let mut n_seen = 0u32;
        while let Ok((n, from)) = sock.recv_from(&mut buf).await {
            n_seen += 1;
            let mut replies: Vec<Vec<u8>> = vec![
                buf[..n / 2].to_vec(),
                vec![0x30, 0x84, 0xff, 0xff, 0xff, 0xff, 0x02, 0x01],
                (0..n)
                    .map(|i| ((i as u32).wrapping_mul(2_654_435_761) ^ n_seen) as u8)
                    .collect(),
            ];
            // The request itself, with the PDU tag turned into a Response: a reply
            // whose content does not match what was asked.
            let mut echo = buf[..n].to_vec();
            if let Some(p) = echo
                .iter()
                .position(|&b| b == 0xa0 || b == 0xa5 || b == 0xa1)
            {
                echo[p] = 0xa2;
                echo.truncate(echo.len().saturating_sub(3));
                replies.push(echo);
            }
            for r in replies {
                let _ = sock.send_to(&r, from).await;
            }
        }
    });
    addr
}

#[tokio::test]
async fn garbage_from_a_hostile_agent_is_dropped_and_counted_never_a_panic() {
    let addr = hostile_agent().await;
    let transport = SnmpTransport::new(0);
    let err = read_device(&transport, addr, &[v2c("public", "public")], &opts(300, 1))
        .await
        .expect_err("garbage is not an answer");
    assert!(
        matches!(err, ReadError::NoAnswer { .. } | ReadError::Snmp { .. }),
        "{err}"
    );
    let stats = transport.stats();
    assert!(stats.malformed + stats.discarded > 0, "{stats:?}");
}

#[tokio::test]
async fn a_printer_on_ipv6_loopback_reads_through_the_v6_socket() {
    let rec = recordings_dir().join("mono-laser.snmprec");
    let addr: SocketAddr = (std::net::Ipv6Addr::LOCALHOST, free_udp_port()).into();
    let snmpd = Snmpd::start(&rec, "public", &[addr]);
    let r = read(snmpd.addr(), &[v2c("public", "public")])
        .await
        .expect("v6 read");
    assert_eq!(r.identity.serial.as_deref(), Some("VNBZZ00421"));
    assert_eq!(r.target, addr.to_string());
}

#[tokio::test]
async fn an_agent_that_answers_nothing_useful_yields_a_reading_that_says_so() {
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::write(
        dir.path().join("bare.snmprec"),
        "1.3.6.1.2.1.1.3.0|67|4200\n",
    )
    .expect("write");
    let sim = Snmpsim::start(dir.path());
    let r = read(sim.addr, &[v2c("bare", "bare")])
        .await
        .expect("it answers");
    assert!(!r.is_printer);
    assert!(
        r.notes
            .iter()
            .any(|n| n.contains("nothing a printer reader can use")),
        "{:?}",
        r.notes
    );
}

#[tokio::test]
async fn an_hp_whose_printer_mib_lives_in_the_jetdirect_context_is_read_there() {
    // Default context: the system group only. `hp@Jetdirect`: the Printer-MIB, as
    // community-string indexing serves it (snmpsim maps that community to the file).
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::write(
        dir.path().join("hp.snmprec"),
        "1.3.6.1.2.1.1.1.0|4|HP ETHERNET MULTI-ENVIRONMENT,SN:CNBZZ00077,PID:HP Color LaserJet Pro M479fdw\n\
         1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.11.2.3.9.1\n\
         1.3.6.1.2.1.1.3.0|67|100\n",
    )
    .expect("write");
    std::fs::write(
        dir.path().join("hp@Jetdirect.snmprec"),
        "1.3.6.1.2.1.43.10.2.1.4.1.1|65|777\n\
         1.3.6.1.2.1.43.11.1.1.6.1.1|4|Black Cartridge\n\
         1.3.6.1.2.1.43.11.1.1.8.1.1|2|100\n\
         1.3.6.1.2.1.43.11.1.1.9.1.1|2|61\n",
    )
    .expect("write");
    let sim = Snmpsim::start(dir.path());
    let r = read(sim.addr, &[v2c("hp", "hp")]).await.expect("read");
    assert!(r.is_printer);
    assert_eq!(
        r.identity.model.as_deref(),
        Some("Color LaserJet Pro M479fdw")
    );
    assert_eq!(r.counters.get("total"), Some(&777));
    assert_eq!(r.supplies.first().and_then(|s| s.percent), Some(61.0));
    assert!(
        r.notes.iter().any(|n| n.contains("Jetdirect")),
        "{:?}",
        r.notes
    );
}

#[tokio::test]
async fn the_send_rate_limit_spaces_requests_across_all_sessions() {
    let sim = Snmpsim::start(&recordings_dir());
    let transport = SnmpTransport::new(20); // packets per second
    let t0 = Instant::now();
    let creds: Vec<[Credential; 1]> = ["mono-laser", "colour-mfp", "brother-blob"]
        .iter()
        .map(|s| [v2c(s, s)])
        .collect();
    let options = opts(2000, 1);
    let reads = creds
        .iter()
        .map(|c| read_device(&transport, sim.addr, c, &options));
    let results = futures::future::join_all(reads).await;
    let requests: u32 = results
        .iter()
        .map(|r| r.as_ref().expect("read").stats.requests)
        .sum();
    // n requests at 20/s cannot all have left in less than (n - 1) / 20 s.
    let floor = Duration::from_millis(50 * u64::from(requests.saturating_sub(1)));
    assert!(
        t0.elapsed() >= floor,
        "{requests} requests in {:?}",
        t0.elapsed()
    );
}
