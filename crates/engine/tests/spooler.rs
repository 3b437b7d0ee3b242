//! The local-spooler reader against a real, private CUPS server (testkit's
//! `Cupsd`: its own cupsd on 127.0.0.1 and a Unix socket, queues added with
//! the real `lpadmin`). Each test starts the server it needs and stops it by
//! PID when it ends.

use printscout_engine::discovery::spooler::cups::cups_queues;
use printscout_engine::discovery::spooler::{LocalQueue, SpoolerError};
use printscout_testkit::ClosedTcpPort;
use printscout_testkit::cups::Cupsd;

fn queue<'a>(queues: &'a [LocalQueue], name: &str) -> &'a LocalQueue {
    queues
        .iter()
        .find(|q| q.name == name)
        .unwrap_or_else(|| panic!("queue {name} in {queues:?}"))
}

#[tokio::test]
async fn the_queues_of_a_cups_server_are_listed_with_their_hosts_and_no_secret() {
    let cups = Cupsd::start();
    cups.add_queue("Office_Laser", "socket://127.0.0.5:9100", "2nd floor");
    cups.add_queue("Front_Desk", "ipp://127.0.0.6:631/ipp/print", "reception");
    cups.add_queue("Old_Lpd", "lpd://user:secret@127.0.0.7/queue", "basement");
    cups.add_queue("Usb_Laser", "usb://HP/LaserJet?serial=ZZ1", "desk");

    let queues = cups_queues(&cups.server()).await.expect("CUPS answers");
    let names: Vec<&str> = queues.iter().map(|q| q.name.as_str()).collect();
    assert_eq!(
        names,
        ["Front_Desk", "Office_Laser", "Old_Lpd", "Usb_Laser"]
    );

    let office = queue(&queues, "Office_Laser");
    assert_eq!(office.spooler, "cups");
    assert_eq!(office.scheme, "socket");
    assert_eq!(office.device_uri, "socket://127.0.0.5:9100");
    assert_eq!(office.host.as_deref(), Some("127.0.0.5"));
    assert_eq!(office.port, Some(9100));
    assert_eq!(office.location.as_deref(), Some("2nd floor"));
    assert_eq!(office.state.as_deref(), Some("idle"));
    assert_eq!(office.make_and_model, None, "a raw queue names no model");

    let ipp = queue(&queues, "Front_Desk");
    assert_eq!(ipp.scheme, "ipp");
    assert_eq!(ipp.host.as_deref(), Some("127.0.0.6"));
    assert_eq!(ipp.port, Some(631));

    let lpd = queue(&queues, "Old_Lpd");
    assert_eq!(lpd.scheme, "lpd");
    assert_eq!(lpd.host.as_deref(), Some("127.0.0.7"));
    assert_eq!(lpd.device_uri, "lpd://127.0.0.7/queue");

    let usb = queue(&queues, "Usb_Laser");
    assert_eq!(usb.scheme, "usb");
    assert_eq!(usb.host, None);
    assert_eq!(usb.device_uri, "usb://HP/LaserJet?serial=ZZ1");

    let debug = format!("{queues:?}");
    let json = serde_json::to_string(&queues).expect("queues serialize");
    for text in [debug, json] {
        assert!(!text.contains("secret"), "{text}");
        assert!(!text.contains("user:"), "{text}");
    }
}

#[tokio::test]
async fn the_same_queues_come_over_the_cups_unix_socket() {
    let cups = Cupsd::start();
    cups.add_queue("Socket_Queue", "socket://127.0.0.5:9100", "lab");
    let path = cups.socket_path();
    let queues = cups_queues(&path.display().to_string())
        .await
        .expect("CUPS answers on its socket");
    assert_eq!(queues.len(), 1);
    assert_eq!(queues[0].name, "Socket_Queue");
    assert_eq!(queues[0].host.as_deref(), Some("127.0.0.5"));
}

#[tokio::test]
async fn a_cups_server_without_queues_lists_none() {
    let cups = Cupsd::start();
    let queues = cups_queues(&cups.server()).await.expect("CUPS answers");
    assert!(queues.is_empty(), "{queues:?}");
}

#[tokio::test]
async fn a_cups_that_is_not_running_is_reported_as_not_running_with_its_address() {
    let closed = ClosedTcpPort::new();
    let server = closed.addr().to_string();
    let err = cups_queues(&server)
        .await
        .expect_err("nothing listens there");
    assert!(matches!(err, SpoolerError::NotRunning(_)), "{err:?}");
    assert!(err.to_string().contains(&server), "{err}");

    let missing = "/nonexistent/printscout/cups.sock";
    let err = cups_queues(missing).await.expect_err("no such socket");
    assert!(matches!(err, SpoolerError::NotRunning(_)), "{err:?}");
    assert!(err.to_string().contains(missing), "{err}");
}
