//! CUPS `ippeveprinter` (Debian `cups-ipp-utils`) as a real IPP printer on
//! loopback, for the IPP reader's tests and figures.
//!
//! Debian's ippeveprinter is built with Avahi and exits with "Unable to
//! initialize DNS-SD." unless it reaches an avahi-daemon over D-Bus. So each
//! [`IppEvePrinter`] starts, in its own [`tempfile::TempDir`]:
//! - a private `dbus-daemon --session` on a Unix socket in the temp dir (never
//!   the system bus);
//! - `avahi-daemon` inside `unshare -n -m`: a new network namespace holding
//!   only a down `lo`, with `allow-interfaces=none0`, and private directories
//!   bind-mounted over `/run` (its pid file) and `/etc/avahi/services`, so
//!   no mDNS packet can leave and parallel tests do not collide;
//! - `ippeveprinter -n localhost -p PORT`, which binds `127.0.0.1:PORT` and
//!   `[::1]:PORT` only (it refuses a literal address such as `127.0.0.7`:
//!   "Unable to create IPv6 listener"), with its spool (`-d`) and its
//!   self-signed TLS key and certificate (`-K`; the default is
//!   `/etc/cups/ssl`) in the temp dir.
//!
//! Two modes: the default one (maker/model from [`IppEveOptions`], built-in
//! `printer-supply`, state changed at run time through the web forms:
//! [`IppEvePrinter::set_supplies`] → `toner-low-report`,
//! `marker-waste-almost-full-report`, …, [`IppEvePrinter::set_media_level`]
//! → `media-empty-report`) and the attribute-file mode
//! ([`IppEveOptions::attributes`], ipptool `ATTR` lines passed with `-a`),
//! which adds marker-*, counters, serial and firmware but replaces the
//! built-in description attributes. What the attribute file cannot do
//! (verified with CUPS 2.4.2): set `printer-state-reasons` (the live value
//! wins) or serve `printer-alert`; it also duplicates `printer-uuid` and
//! `printer-location` when the file sets them (the file's value comes
//! first). Reason severities other than `-report` cannot be produced by
//! this peer.
//!
//! Invariants: loopback only; every process is ours and is stopped by PID
//! on drop (printer, then avahi, then dbus); nothing is written outside the
//! temp dir; `start` returns only once the printer accepts TCP connections
//! (else it panics with the logs).

use std::fs::File;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::process::PeerProcess;

const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// How to start the printer.
#[derive(Clone, Debug)]
pub struct IppEveOptions {
    /// Printer name (`printer-name`, `printer-info`).
    pub name: String,
    /// Maker (`-M`; default mode only).
    pub make: Option<String>,
    /// Model (`-m`; default mode only).
    pub model: Option<String>,
    /// ipptool `ATTR` lines for `-a` (attribute-file mode; `make`/`model` are then ignored).
    pub attributes: Option<String>,
}

impl Default for IppEveOptions {
    fn default() -> Self {
        IppEveOptions {
            name: "PrintScoutTest".into(),
            make: Some("ACME".into()),
            model: Some("LaserWriter IPP".into()),
            attributes: None,
        }
    }
}

/// A running ippeveprinter with its private D-Bus and avahi.
pub struct IppEvePrinter {
    // Dropped in this order: printer, then avahi, then dbus.
    printer: PeerProcess,
    avahi: PeerProcess,
    dbus: PeerProcess,
    port: u16,
    startup: Duration,
    tmp: tempfile::TempDir,
}

impl IppEvePrinter {
    /// Starts a printer in the default mode (maker ACME, model "LaserWriter IPP").
    pub fn start() -> IppEvePrinter {
        IppEvePrinter::start_with(IppEveOptions::default())
    }

    /// Starts a printer as `options` say, on a free loopback port (another
    /// port is tried if it is taken first).
    ///
    /// # Panics
    /// If `ippeveprinter`, `avahi-daemon`, `dbus-daemon` or `unshare` is
    /// missing ("apt-get install cups-ipp-utils avahi-daemon dbus"), or the
    /// printer does not listen within 20 s (the message carries the logs).
    pub fn start_with(options: IppEveOptions) -> IppEvePrinter {
        let programs = ["ippeveprinter", "avahi-daemon", "dbus-daemon", "unshare"].map(|p| {
            find_program(p).unwrap_or_else(|| {
                panic!(
                    "{p} is not installed: apt-get install cups-ipp-utils avahi-daemon dbus util-linux"
                )
            })
        });
        let mut last = String::new();
        for _ in 0..3 {
            match IppEvePrinter::try_start(&options, &programs, crate::free_tcp_port()) {
                Ok(p) => return p,
                Err(message) => last = message,
            }
        }
        panic!("{last}")
    }

    fn try_start(
        options: &IppEveOptions,
        [ippeveprinter, avahi_daemon, dbus_daemon, unshare]: &[PathBuf; 4],
        port: u16,
    ) -> Result<IppEvePrinter, String> {
        let started = Instant::now();
        let tmp = tempfile::Builder::new()
            .prefix("printscout-ippeve-")
            .tempdir()
            .expect("create a temp dir for ippeveprinter");
        let dir = tmp.path().to_path_buf();
        for sub in ["spool", "ssl", "run/avahi-daemon", "services"] {
            std::fs::create_dir_all(dir.join(sub)).expect("create ippeveprinter dirs");
        }
        let socket = dir.join("dbus.sock");
        let bus = format!("unix:path={}", socket.display());

        let dbus_log = dir.join("dbus.log");
        let mut command = Command::new(dbus_daemon);
        command
            .args(["--session", "--nofork", "--nopidfile"])
            .arg(format!("--address={bus}"));
        with_log(&mut command, &dbus_log);
        let mut dbus = PeerProcess::spawn("dbus-daemon", command, vec![dbus_log]);
        wait_for(
            || socket.exists(),
            &mut dbus,
            Duration::from_secs(5),
            "its socket",
        )?;

        let avahi_conf = dir.join("avahi-daemon.conf");
        std::fs::write(
            &avahi_conf,
            "# printscout-testkit: no interface, no publishing beyond D-Bus\n\
             [server]\nuse-ipv4=yes\nuse-ipv6=no\nallow-interfaces=none0\nenable-dbus=yes\n\
             [wide-area]\nenable-wide-area=no\n\
             [publish]\npublish-addresses=no\npublish-hinfo=no\npublish-workstation=no\npublish-domain=no\n",
        )
        .expect("write avahi-daemon.conf");
        let avahi_log = dir.join("avahi.log");
        let mut command = Command::new(unshare);
        // unshare → sh → avahi-daemon: each execs the next, so the PID is avahi's.
        command
            .args(["-n", "-m", "--propagation", "private", "sh", "-c"])
            .arg(
                "set -e; mount --bind \"$1\" /run; mount --bind \"$2\" /etc/avahi/services; \
                 exec \"$4\" -f \"$3\" --no-drop-root --no-chroot --no-rlimits --no-proc-title",
            )
            .arg("printscout-avahi")
            .arg(dir.join("run"))
            .arg(dir.join("services"))
            .arg(&avahi_conf)
            .arg(avahi_daemon)
            .env("DBUS_SYSTEM_BUS_ADDRESS", &bus);
        with_log(&mut command, &avahi_log);
        let mut avahi = PeerProcess::spawn("avahi-daemon", command, vec![avahi_log.clone()]);
        wait_for(
            || {
                std::fs::read_to_string(&avahi_log)
                    .is_ok_and(|t| t.contains("Server startup complete"))
            },
            &mut avahi,
            Duration::from_secs(10),
            "\"Server startup complete\"",
        )?;

        let log = dir.join("ippeveprinter.log");
        let mut command = Command::new(ippeveprinter);
        command
            .args(["-n", "localhost", "-p", &port.to_string()])
            .arg("-d")
            .arg(dir.join("spool"))
            .arg("-K")
            .arg(dir.join("ssl"))
            .env("DBUS_SYSTEM_BUS_ADDRESS", &bus);
        if let Some(attrs) = &options.attributes {
            let file = dir.join("attributes.conf");
            std::fs::write(&file, attrs).expect("write the attribute file");
            command.arg("-a").arg(file);
        } else {
            if let Some(make) = &options.make {
                command.args(["-M", make]);
            }
            if let Some(model) = &options.model {
                command.args(["-m", model]);
            }
        }
        command.arg(&options.name);
        with_log(&mut command, &log);
        let mut printer = PeerProcess::spawn("ippeveprinter", command, vec![log]);
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                break;
            }
            if let Some(status) = printer.exited() {
                return Err(format!(
                    "ippeveprinter on port {port} exited ({status}):\n{}",
                    printer.log_tail(20)
                ));
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "ippeveprinter did not listen on {addr} within {READY_TIMEOUT:?}:\n{}",
                    printer.log_tail(20)
                ));
            }
            std::thread::sleep(Duration::from_millis(30));
        }
        Ok(IppEvePrinter {
            printer,
            avahi,
            dbus,
            port,
            startup: started.elapsed(),
            tmp,
        })
    }

    /// The TCP port (on 127.0.0.1 and ::1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `ipp://127.0.0.1:PORT/ipp/print`.
    pub fn url(&self) -> String {
        format!("ipp://127.0.0.1:{}/ipp/print", self.port)
    }

    /// `ipps://localhost:PORT/ipp/print` (its certificate is self-signed for `localhost`).
    pub fn ipps_url(&self) -> String {
        format!("ipps://localhost:{}/ipp/print", self.port)
    }

    /// The printer's PID.
    pub fn pid(&self) -> u32 {
        self.printer.pid()
    }

    /// Time from the first process spawned until the printer listened.
    pub fn startup(&self) -> Duration {
        self.startup
    }

    /// The temp dir holding spool, keys and logs.
    pub fn dir(&self) -> &Path {
        self.tmp.path()
    }

    /// PIDs of the helper daemons (dbus, avahi), for tests that check cleanup.
    pub fn helper_pids(&self) -> [u32; 2] {
        [self.dbus.pid(), self.avahi.pid()]
    }

    /// Sets the built-in supplies through the `/supplies` web form (default
    /// mode): `levels[0]` is the waste tank's fill, `levels[1]` the black
    /// toner's level, in percent. 95/3 → `marker-waste-almost-full-report`,
    /// `toner-low-report`; 100/0 → `marker-waste-full-report`,
    /// `toner-empty-report`.
    pub fn set_supplies(&self, levels: &[u8]) {
        let query: Vec<String> = levels
            .iter()
            .enumerate()
            .map(|(i, l)| format!("supply{i}={l}"))
            .collect();
        self.form(&format!("/supplies?{}", query.join("&")));
    }

    /// Sets tray `tray`'s (0-based) level through the `/media` web form
    /// (default mode): every tray field is sent, as the form requires; level
    /// 0 → `media-empty-report`.
    pub fn set_media_level(&self, tray: usize, level: u8) {
        let mut query = Vec::new();
        for i in 0..=tray {
            let l = if i == tray { level } else { 100 };
            query.push(format!(
                "size{i}=iso_a4_210x297mm&type{i}=stationery&level{i}={l}"
            ));
        }
        self.form(&format!("/media?{}", query.join("&")));
    }

    /// Submits a small job (`image/pwg-raster`, a sync word and zeros) with ipptool, so the
    /// printer is `processing` for ~15 s. Panics if ipptool fails.
    pub fn print_job(&self, job_name: &str) {
        let dir = self.tmp.path();
        let test = dir.join("print-job.test");
        std::fs::write(
            &test,
            format!(
                "{{\n  OPERATION Print-Job\n  GROUP operation-attributes-tag\n  \
                 ATTR charset attributes-charset utf-8\n  \
                 ATTR naturalLanguage attributes-natural-language en\n  \
                 ATTR uri printer-uri $uri\n  ATTR name requesting-user-name tester\n  \
                 ATTR name job-name \"{job_name}\"\n  \
                 ATTR mimeMediaType document-format image/pwg-raster\n  \
                 FILE $filename\n  STATUS successful-ok\n}}\n"
            ),
        )
        .expect("write the print-job test");
        let doc = dir.join("job.bin");
        // Declared as PWG raster (ippeveprinter refuses this as
        // application/octet-stream); the simulated printer never decodes it.
        let mut bytes = b"RaS2".to_vec();
        bytes.resize(1800, 0);
        std::fs::write(&doc, bytes).expect("write the job document");
        let out = Command::new("ipptool")
            .arg("-tf")
            .arg(&doc)
            .arg(self.url())
            .arg(&test)
            .output()
            .expect("run ipptool (apt-get install cups-ipp-utils)");
        assert!(
            out.status.success(),
            "ipptool Print-Job failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A GET to the printer's web server; panics unless it answers 200.
    fn form(&self, path_and_query: &str) {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))
            .expect("connect to ippeveprinter's web server");
        s.set_read_timeout(Some(Duration::from_secs(5)))
            .expect("set a read timeout");
        write!(
            s,
            "GET {path_and_query} HTTP/1.0\r\nHost: localhost:{}\r\n\r\n",
            self.port
        )
        .expect("send the form request");
        // The form is applied before the answer starts: the status line is
        // enough (the server may keep the connection open).
        let mut answer = Vec::new();
        let mut chunk = [0u8; 1024];
        while !answer.windows(2).any(|w| w == b"\r\n") {
            match s.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&chunk[..n]),
            }
        }
        let head = String::from_utf8_lossy(&answer[..answer.len().min(64)]).to_string();
        assert!(
            head.starts_with("HTTP/1.0 200") || head.starts_with("HTTP/1.1 200"),
            "ippeveprinter's form {path_and_query} answered: {head}"
        );
    }
}

fn with_log(command: &mut Command, log: &Path) {
    let out = File::create(log).expect("create a log file");
    let err = out.try_clone().expect("clone the log file handle");
    command
        .stdin(Stdio::null())
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err));
}

fn wait_for(
    ready: impl Fn() -> bool,
    process: &mut PeerProcess,
    limit: Duration,
    what: &str,
) -> Result<(), String> {
    let deadline = Instant::now() + limit;
    while !ready() {
        if let Some(status) = process.exited() {
            return Err(format!(
                "{} exited ({status}):\n{}",
                process.name(),
                process.log_tail(20)
            ));
        }
        if Instant::now() > deadline {
            return Err(format!(
                "{} did not show {what} within {limit:?}:\n{}",
                process.name(),
                process.log_tail(20)
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/bin"].map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}
