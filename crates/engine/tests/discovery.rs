//! The discovery engine's own API against real net-snmp `snmpd` agents on
//! loopback: progress events for the UI, credential order, cancellation.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use printscout_engine::discovery::sweep::SweepSettings;
use printscout_engine::discovery::targets::AddressSet;
use printscout_engine::discovery::{FoundBy, ScanEvent, ScanRequest, scan};
use printscout_engine::snmp::transport::SnmpTransport;
use printscout_engine::snmp::{Credential, Version};
use printscout_testkit::{Snmpd, free_udp_port, recordings_dir};
use tokio_util::sync::CancellationToken;

fn addr(s: &str, port: u16) -> SocketAddr {
    SocketAddr::new(s.parse().expect("address"), port)
}

fn request(net: &str, port: u16, communities: &[&str]) -> ScanRequest {
    let mut sweep = AddressSet::default();
    sweep.add_network(net.parse().expect("network"));
    ScanRequest {
        sweep,
        credentials: communities
            .iter()
            .enumerate()
            .map(|(i, c)| Credential::community(format!("c{}", i + 1), Version::V2c, *c))
            .collect(),
        sweep_settings: SweepSettings {
            port,
            ..SweepSettings::default()
        },
        ..ScanRequest::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scan_reports_progress_reads_and_its_end_as_events() {
    let port = free_udp_port();
    let _agent = Snmpd::start(
        &recordings_dir().join("mono-laser.snmprec"),
        "public",
        &[addr("127.0.71.5", port)],
    );
    let events: Arc<Mutex<Vec<ScanEvent>>> = Arc::default();
    let sink = {
        let events = events.clone();
        Arc::new(move |e: ScanEvent| events.lock().expect("lock").push(e))
    };
    let transport = SnmpTransport::new(2000);
    let report = scan(
        &transport,
        &request("127.0.71.0/28", port, &["public"]),
        &CancellationToken::new(),
        sink,
    )
    .await;
    assert_eq!(report.devices.len(), 1);
    assert_eq!(report.devices[0].found_by, vec![FoundBy::Sweep]);
    assert!(!report.cancelled);
    let events = events.lock().expect("lock");
    assert!(
        matches!(&events[0], ScanEvent::Started { addresses: 14, methods } if methods == &[FoundBy::Sweep]),
        "{:?}",
        events[0]
    );
    assert!(events.iter().any(|e| matches!(
        e,
        ScanEvent::Read { is_printer: true, model: Some(m), .. } if m == "LaserJet Pro M404dn"
    )));
    let last_progress = events
        .iter()
        .rev()
        .find_map(|e| match e {
            ScanEvent::Progress { probed, total, .. } => Some((*probed, *total)),
            _ => None,
        })
        .expect("progress events");
    assert_eq!(last_progress, (14, 14));
    assert!(matches!(
        events.last(),
        Some(ScanEvent::Finished {
            cancelled: false,
            devices: 1
        })
    ));
    // Events serialise for the UI with a tag.
    let json = serde_json::to_value(&events[0]).expect("serialises");
    assert_eq!(json["event"], "started");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_that_ignores_the_first_credential_is_found_with_the_second() {
    let port = free_udp_port();
    // This agent knows only "public": "wrong" goes first and gets no answer.
    let _agent = Snmpd::start(
        &recordings_dir().join("mono-laser.snmprec"),
        "public",
        &[addr("127.0.72.5", port)],
    );
    let transport = SnmpTransport::new(2000);
    let report = scan(
        &transport,
        &request("127.0.72.0/29", port, &["wrong", "public"]),
        &CancellationToken::new(),
        Arc::new(|_| {}),
    )
    .await;
    assert_eq!(report.devices.len(), 1);
    assert_eq!(report.devices[0].credential.as_deref(), Some("c2"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_scan_returns_at_once_with_what_it_had() {
    let port = free_udp_port();
    let transport = SnmpTransport::new(50);
    let cancel = CancellationToken::new();
    let req = request("127.0.73.0/22", port, &["public"]);
    let canceller = {
        let cancel = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            cancel.cancel();
        })
    };
    let report = tokio::time::timeout(
        Duration::from_secs(10),
        scan(&transport, &req, &cancel, Arc::new(|_| {})),
    )
    .await
    .expect("a cancelled scan ends promptly");
    canceller.await.expect("canceller");
    assert!(report.cancelled);
    assert!(report.stats.addresses_probed < 1022);
    assert!(report.devices.is_empty());
}
