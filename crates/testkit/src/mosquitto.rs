//! A Bambu Lab printer's LAN-mode broker for tests: Debian's **mosquitto** on
//! 127.0.0.1 with TLS and password auth, plus a "printer" that answers requests.
//!
//! What this module owns:
//! - a throw-away CA (rcgen; like Bambu's, without a key-usage extension) signing
//!   the broker's certificate with **CN = the serial**, either with a
//!   subjectAltName `DNS:<serial>` or CN only (no SAN, like real Bambu printers),
//!   or issued to another serial ([`BambuBrokerOptions::cert_name`]);
//! - mosquitto run by PID from its own config, password file (`bblp` = the access
//!   code, written with `mosquitto_passwd`), certificates and log in a temp dir:
//!   a TLS listener (the printer's port 8883 shape, TLS 1.2 like the printers) and
//!   a second, plain listener on 127.0.0.1 for the printer's own client (the real
//!   printer publishes from inside the box); no anonymous access on either;
//! - the "printer": a rumqttc client on its own thread subscribed to
//!   `device/<serial>/request`, answering `pushall` with the report JSON of its
//!   [`PrinterScript`] and `get_version` with its module list, published to
//!   `device/<serial>/report`. The report JSON is our own, shaped like
//!   PROTOCOLS.md §6: an X1 full object ([`x1_full_report`]) or P1 deltas
//!   ([`p1_delta_reports`]).
//!
//! Invariants: loopback only; mosquitto is stopped by its PID on drop (SIGTERM,
//! then SIGKILL) and the printer thread is stopped and joined; `start` returns
//! only when both listeners accept connections and the printer is subscribed,
//! else it panics with the broker's log. Needs `scripts/peers/mosquitto.sh install`.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use serde_json::{Value, json};

use crate::free_tcp_port;
use crate::process::PeerProcess;

/// What the printer publishes when asked.
#[derive(Clone, Debug, Default)]
pub struct PrinterScript {
    /// Payloads published to the report topic, in order, for each `pushall`.
    pub on_pushall: Vec<String>,
    /// The payload answering `get_version` (none: the request goes unanswered).
    pub on_get_version: Option<String>,
}

impl PrinterScript {
    /// An X1 Carbon printing: one full report, and its modules.
    pub fn x1_full(serial: &str) -> PrinterScript {
        PrinterScript {
            on_pushall: vec![x1_full_report().to_string()],
            on_get_version: Some(version_answer(serial, "BL-P001", "01.08.02.00").to_string()),
        }
    }

    /// A P1 paused: deltas only (see [`p1_delta_reports`]), and its modules.
    pub fn p1_deltas(serial: &str) -> PrinterScript {
        PrinterScript {
            on_pushall: p1_delta_reports()
                .into_iter()
                .map(|r| r.to_string())
                .collect(),
            on_get_version: Some(version_answer(serial, "C11", "01.07.00.00").to_string()),
        }
    }

    /// A printer that never answers anything.
    pub fn silent() -> PrinterScript {
        PrinterScript::default()
    }
}

/// How to set the broker up.
#[derive(Clone, Debug)]
pub struct BambuBrokerOptions {
    /// The printer's serial: the topics `device/<serial>/…`.
    pub serial: String,
    /// The LAN access code (the password of user `bblp`).
    pub access_code: String,
    /// The name in the certificate (CN, and SAN when [`Self::san`]); `None`:
    /// the serial. Another serial here is a certificate for another printer.
    pub cert_name: Option<String>,
    /// Whether the certificate has a subjectAltName `DNS:<name>` (real Bambu
    /// certificates have the serial in CN only).
    pub san: bool,
    /// What the printer answers.
    pub script: PrinterScript,
}

impl BambuBrokerOptions {
    /// A broker for `serial` with access code `12345678`, a SAN certificate and
    /// the given script.
    pub fn new(serial: &str, script: PrinterScript) -> BambuBrokerOptions {
        BambuBrokerOptions {
            serial: serial.to_owned(),
            access_code: "12345678".into(),
            cert_name: None,
            san: true,
            script,
        }
    }
}

/// A running broker with its printer; stopped on drop.
pub struct BambuBroker {
    printer: Option<PrinterTask>,
    process: PeerProcess,
    port: u16,
    ca_pem: String,
    serial: String,
    requests: Arc<Mutex<Vec<String>>>,
    dir: tempfile::TempDir,
}

impl std::fmt::Debug for BambuBroker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BambuBroker")
            .field("pid", &self.process.pid())
            .field("port", &self.port)
            .field("serial", &self.serial)
            .finish_non_exhaustive()
    }
}

impl BambuBroker {
    /// Makes the certificates, starts mosquitto on two free loopback ports
    /// (retrying on a bind race) and the printer.
    ///
    /// # Panics
    /// When mosquitto is not installed ("run scripts/peers/mosquitto.sh install"),
    /// or it does not come up within 15 s.
    pub fn start(options: BambuBrokerOptions) -> BambuBroker {
        let mut last_log = String::new();
        for _ in 0..4 {
            match try_start(&options) {
                Ok(broker) => return broker,
                Err(log) => last_log = log,
            }
        }
        panic!("mosquitto did not start (4 tries):\n{last_log}");
    }

    /// The TLS port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The CA that signed the broker's certificate, as PEM.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The printer's serial.
    pub fn serial(&self) -> &str {
        &self.serial
    }

    /// `bambu://<serial>@127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("bambu://{}@127.0.0.1:{}", self.serial, self.port)
    }

    /// mosquitto's PID.
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// The request payloads the printer received so far, in order.
    pub fn requests_seen(&self) -> Vec<String> {
        self.requests.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// The broker's log (connections, refusals).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("mosquitto.log")).unwrap_or_default()
    }
}

impl Drop for BambuBroker {
    fn drop(&mut self) {
        // The printer first, while the broker is still there to say goodbye to.
        self.printer.take();
    }
}

fn try_start(options: &BambuBrokerOptions) -> Result<BambuBroker, String> {
    let mosquitto = which("mosquitto")
        .expect("mosquitto is not installed: run scripts/peers/mosquitto.sh install");
    let passwd_bin = which("mosquitto_passwd")
        .expect("mosquitto_passwd is not installed: run scripts/peers/mosquitto.sh install");
    let dir = tempfile::tempdir().expect("a temp dir for mosquitto");
    let d = dir.path();
    let cert_name = options.cert_name.as_deref().unwrap_or(&options.serial);
    let ca_pem = write_certificates(d, cert_name, options.san);

    let passwd = d.join("passwd");
    let status = Command::new(&passwd_bin)
        .arg("-c")
        .arg("-b")
        .arg(&passwd)
        .arg("bblp")
        .arg(&options.access_code)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run mosquitto_passwd");
    assert!(status.success(), "mosquitto_passwd failed: {status}");

    let port = free_tcp_port();
    let internal = free_tcp_port();
    let conf = d.join("mosquitto.conf");
    let mut text = String::from("# printscout-testkit: a Bambu LAN-mode broker on loopback\n");
    if running_as_root() {
        // As root, mosquitto drops to user "mosquitto", which cannot read the temp dir.
        text.push_str("user root\n");
    }
    text.push_str(&format!(
        "per_listener_settings true\npersistence false\nset_tcp_nodelay true\nlog_dest file {log}\nlog_type all\n\
         listener {port} 127.0.0.1\ncafile {dir}/ca.crt\ncertfile {dir}/server.crt\n\
         keyfile {dir}/server.key\ntls_version tlsv1.2\nallow_anonymous false\npassword_file {pw}\n\
         listener {internal} 127.0.0.1\nallow_anonymous false\npassword_file {pw}\n",
        log = d.join("mosquitto.log").display(),
        dir = d.display(),
        pw = passwd.display(),
    ));
    std::fs::write(&conf, text).expect("write mosquitto.conf");

    let out = std::fs::File::create(d.join("stdout.log")).expect("stdout.log");
    let err = out.try_clone().expect("stdout.log twice");
    let mut command = Command::new(mosquitto);
    command
        .arg("-c")
        .arg(&conf)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err);
    let mut process = PeerProcess::spawn(
        "mosquitto",
        command,
        vec![d.join("stdout.log"), d.join("mosquitto.log")],
    );

    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(status) = process.exited() {
            return Err(format!(
                "mosquitto exited ({status}):\n{}",
                process.log_tail(30)
            ));
        }
        if listening(port) && listening(internal) {
            break;
        }
        if Instant::now() > deadline {
            return Err(format!(
                "mosquitto is not listening on {port}/{internal} after 15 s:\n{}",
                process.log_tail(30)
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }

    let requests = Arc::new(Mutex::new(Vec::new()));
    let printer = PrinterTask::start(
        internal,
        &options.serial,
        &options.access_code,
        options.script.clone(),
        requests.clone(),
    )
    .map_err(|e| {
        format!(
            "the printer did not subscribe: {e}\n{}",
            process.log_tail(30)
        )
    })?;

    Ok(BambuBroker {
        printer: Some(printer),
        process,
        port,
        ca_pem,
        serial: options.serial.clone(),
        requests,
        dir,
    })
}

fn listening(port: u16) -> bool {
    TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_millis(200),
    )
    .is_ok()
}

fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

/// Writes `ca.crt`, `server.crt` and `server.key` into `dir`; returns the CA's PEM.
fn write_certificates(dir: &Path, cert_name: &str, san: bool) -> String {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().expect("a CA key");
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::OrganizationName, "PrintScout lab");
    ca.distinguished_name
        .push(DnType::CommonName, "PrintScout lab Bambu CA");
    // Like Bambu's CA: no key-usage extension.
    ca.key_usages = Vec::new();
    let ca_cert = ca.self_signed(&ca_key).expect("the CA certificate");
    let issuer = Issuer::new(ca, ca_key);

    let key = KeyPair::generate().expect("a server key");
    let names = if san {
        vec![cert_name.to_owned()]
    } else {
        Vec::new()
    };
    let mut leaf = CertificateParams::new(names).expect("server params");
    leaf.distinguished_name.push(DnType::CommonName, cert_name);
    let leaf_cert = leaf
        .signed_by(&key, &issuer)
        .expect("the server certificate");

    let ca_pem = ca_cert.pem();
    std::fs::write(dir.join("ca.crt"), &ca_pem).expect("write ca.crt");
    std::fs::write(dir.join("server.crt"), leaf_cert.pem()).expect("write server.crt");
    std::fs::write(dir.join("server.key"), key.serialize_pem()).expect("write server.key");
    ca_pem
}

/// The printer's client on its own thread and runtime.
struct PrinterTask {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl PrinterTask {
    fn start(
        port: u16,
        serial: &str,
        access_code: &str,
        script: PrinterScript,
        requests: Arc<Mutex<Vec<String>>>,
    ) -> Result<PrinterTask, String> {
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel();
        let (ready_tx, ready_rx) = mpsc::channel::<Result<(), String>>();
        let mut options = MqttOptions::new(format!("printer-{serial}"), "127.0.0.1", port);
        options.set_credentials("bblp", access_code);
        options.set_keep_alive(Duration::from_secs(5));
        options.set_max_packet_size(1 << 20, 1 << 20);
        let serial = serial.to_owned();
        let thread = std::thread::Builder::new()
            .name("bambu-printer".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a runtime for the printer");
                runtime.block_on(printer_loop(
                    options, serial, script, requests, ready_tx, stop_rx,
                ));
            })
            .expect("spawn the printer thread");
        let task = PrinterTask {
            stop: Some(stop_tx),
            thread: Some(thread),
        };
        match ready_rx.recv_timeout(Duration::from_secs(10)) {
            Ok(Ok(())) => Ok(task),
            Ok(Err(e)) => Err(e),
            Err(_) => Err("no SUBACK within 10 s".into()),
        }
    }
}

impl Drop for PrinterTask {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn printer_loop(
    options: MqttOptions,
    serial: String,
    script: PrinterScript,
    requests: Arc<Mutex<Vec<String>>>,
    ready: mpsc::Sender<Result<(), String>>,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) {
    let (client, mut events) = AsyncClient::new(options, 64);
    // A printer answers at once: no Nagle delay on its socket.
    let mut network = rumqttc::NetworkOptions::new();
    network.set_tcp_nodelay(true);
    events.set_network_options(network);
    let request_topic = format!("device/{serial}/request");
    let report_topic = format!("device/{serial}/report");
    if let Err(e) = client.subscribe(&request_topic, QoS::AtMostOnce).await {
        let _ = ready.send(Err(e.to_string()));
        return;
    }
    let mut failures = 0;
    loop {
        let event = tokio::select! {
            _ = &mut stop => break,
            event = events.poll() => event,
        };
        match event {
            Ok(Event::Incoming(Packet::SubAck(_))) => {
                let _ = ready.send(Ok(()));
            }
            Ok(Event::Incoming(Packet::Publish(p))) if p.topic == request_topic => {
                let text = String::from_utf8_lossy(&p.payload).into_owned();
                if let Ok(mut seen) = requests.lock() {
                    seen.push(text.clone());
                }
                let request: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                let answers: Vec<String> =
                    if request.pointer("/pushing/command") == Some(&json!("pushall")) {
                        script.on_pushall.clone()
                    } else if request.pointer("/info/command") == Some(&json!("get_version")) {
                        script.on_get_version.iter().cloned().collect()
                    } else {
                        Vec::new()
                    };
                let client = client.clone();
                let topic = report_topic.clone();
                tokio::spawn(async move {
                    for answer in answers {
                        let _ = client.publish(&topic, QoS::AtMostOnce, false, answer).await;
                    }
                });
            }
            Ok(_) => {}
            Err(e) => {
                failures += 1;
                if failures > 50 {
                    let _ = ready.send(Err(format!("the printer's client failed: {e}")));
                    return;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    let _ = client.disconnect().await;
    // Let the DISCONNECT go out.
    let _ = tokio::time::timeout(Duration::from_millis(200), events.poll()).await;
}

/// The `get_version` answer of a printer (modules with versions and serials).
pub fn version_answer(serial: &str, project: &str, ota_version: &str) -> Value {
    json!({"info": {
        "command": "get_version",
        "sequence_id": "0",
        "module": [
            {"name": "ota", "project_name": project, "sw_ver": ota_version, "hw_ver": "OTA",
             "sn": serial, "loader_ver": "00.00.00.00"},
            {"name": "mc", "project_name": "", "sw_ver": "00.00.23.22", "hw_ver": "MC07",
             "sn": "0900MC0B1234567", "loader_ver": "00.00.00.32"},
            {"name": "rv1126", "project_name": "", "sw_ver": "00.00.23.46", "hw_ver": "AP05",
             "sn": "0000AP0B7654321", "loader_ver": "00.00.00.00"},
            {"name": "th", "project_name": "", "sw_ver": "00.00.05.96", "hw_ver": "TH07",
             "sn": "0900TH0B1111111", "loader_ver": "00.00.00.00"},
            {"name": "ams/0", "project_name": "", "sw_ver": "00.00.06.40", "hw_ver": "AMS08",
             "sn": "006E22A0B2222222", "loader_ver": "00.00.00.00"}
        ],
        "result": "success",
        "reason": ""
    }})
}

/// An X1 Carbon's full report while printing: everything in one object.
pub fn x1_full_report() -> Value {
    let trays: Vec<Value> = [
        ("PLA", "FFFFFFFF", 87),
        ("PLA", "000000FF", 42),
        ("PETG", "F98C36FF", 100),
        ("PLA-S", "8E9089FF", -1),
    ]
    .iter()
    .enumerate()
    .map(|(i, (kind, colour, remain))| {
        json!({"id": i.to_string(), "tray_type": kind, "tray_color": colour, "remain": remain,
               "tray_sub_brands": format!("{kind} Basic"), "tray_weight": "1000",
               "tray_diameter": "1.75", "nozzle_temp_min": "190", "nozzle_temp_max": "240",
               "bed_temp": "55", "tray_uuid": "00000000000000000000000000000000",
               "tag_uid": "0000000000000000", "k": 0.02, "n": 1, "cali_idx": -1})
    })
    .collect();
    let mut print = json!({
        "command": "push_status", "msg": 0, "sequence_id": "2021",
        "gcode_state": "RUNNING", "gcode_file": "/data/Metadata/plate_1.gcode",
        "subtask_name": "bracket_v3", "subtask_id": "98765", "task_id": "98764",
        "job_id": "98764", "project_id": "4321", "profile_id": "1234",
        "gcode_start_time": "1767225600", "print_type": "local",
        "mc_percent": 42, "mc_remaining_time": 37, "mc_print_stage": "2",
        "mc_print_sub_stage": 0, "mc_print_line_number": "48213",
        "layer_num": 57, "total_layer_num": 140, "stg_cur": 0, "stg": [2, 14, 1],
        "nozzle_temper": 219.8, "nozzle_target_temper": 220.0,
        "bed_temper": 55.1, "bed_target_temper": 55.0, "chamber_temper": 31.5,
        "nozzle_diameter": "0.4", "nozzle_type": "hardened_steel",
        "print_error": 0, "hms": [], "fail_reason": "0"
    });
    let more = [
        json!({
            "spd_lvl": 2, "spd_mag": 100, "fan_gear": 49167,
            "cooling_fan_speed": "15", "big_fan1_speed": "0", "big_fan2_speed": "0",
            "heatbreak_fan_speed": "15", "wifi_signal": "-52dBm", "home_flag": 6_299_031,
            "sdcard": true, "lifecycle": "product", "force_upgrade": false,
            "print_gcode_action": 0, "print_real_action": 0, "queue_number": 0
        }),
        json!({
            "ams": {"ams": [{"id": "0", "humidity": "4", "temp": "26.4", "tray": trays}],
                    "ams_exist_bits": "1", "tray_exist_bits": "f", "tray_is_bbl_bits": "f",
                    "tray_now": "0", "tray_pre": "0", "tray_tar": "0",
                    "tray_read_done_bits": "f", "tray_reading_bits": "0", "version": 12,
                    "insert_flag": true, "power_on_flag": false},
            "vt_tray": {"id": "254", "tray_type": "", "tray_color": "00000000", "remain": 0},
            "lights_report": [{"node": "chamber_light", "mode": "on"},
                              {"node": "work_light", "mode": "flashing"}]
        }),
        json!({
            "ipcam": {"ipcam_dev": "1", "ipcam_record": "enable", "timelapse": "disable",
                      "resolution": "1080p", "tutk_server": "disable", "mode_bits": 3},
            "upgrade_state": {"sequence_id": 0, "progress": "", "status": "",
                              "consistency_request": false, "dis_state": 0, "err_code": 0,
                              "force_upgrade": false, "message": "", "module": "",
                              "new_version_state": 2, "new_ver_list": []}
        }),
        json!({
            "xcam": {"allow_skip_parts": false, "buildplate_marker_detector": true,
                     "first_layer_inspector": true, "halt_print_sensitivity": "medium",
                     "print_halt": true, "printing_monitor": true, "spaghetti_detector": true},
            "online": {"ahb": false, "rfid": false, "version": 7},
            "net": {"conf": 16, "info": [{"ip": 1_677_830_336_u64, "mask": 16_777_215}]}
        }),
    ];
    if let Value::Object(map) = &mut print {
        for part in more {
            if let Value::Object(part) = part {
                map.extend(part);
            }
        }
    }
    json!({ "print": print })
}

/// A P1's answer to `pushall` while paused, as deltas: the first report has no
/// `gcode_state`, the second no `mc_percent`, `subtask_name` or `bed_temper` —
/// merged, they make the state (paused, 63 %, 12 min left, an HMS warning).
pub fn p1_delta_reports() -> Vec<Value> {
    vec![
        json!({"print": {"command": "push_status", "msg": 1, "sequence_id": "501",
                         "nozzle_temper": 201.5, "bed_temper": 60.2, "bed_target_temper": 60.0,
                         "mc_percent": 63, "subtask_name": "gear_plate", "layer_num": 88}}),
        json!({"print": {"command": "push_status", "msg": 1, "sequence_id": "502",
                         "gcode_state": "PAUSE", "mc_remaining_time": 12,
                         "nozzle_target_temper": 0.0,
                         "hms": [{"attr": 0x0700_2000_u64, "code": 0x0002_0001_u64}]}}),
    ]
}
