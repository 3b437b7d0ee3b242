//! The net-snmp command-line clients (`snmpget`, `snmpwalk`) as an independent SNMP
//! client for tests: a second implementation to cross-check ours against.
//!
//! Every call runs with a private temp `SNMP_PERSISTENT_DIR` and `SNMPCONFPATH` (so the
//! tools neither read `/etc/snmp/snmp.conf` nor write under `/var/lib/snmp`), no MIBs
//! (`-m ""`) and numeric OIDs (`-On`). Only loopback agents are accepted.

use std::net::SocketAddr;
use std::process::Command;

use crate::V3User;

/// One varbind as net-snmp prints it: numeric OID (with a leading dot) and the value text
/// after ` = ` (e.g. `STRING: "x"`, `INTEGER: -3`, `Hex-STRING: 00 10 ...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Varbind {
    pub oid: String,
    pub value: String,
}

/// Run a net-snmp client `tool` (e.g. `snmpget`) with `args` in the private
/// environment; stdout on success, stderr + stdout on failure.
pub fn run(tool: &str, args: &[String]) -> Result<String, String> {
    let dir = tempfile::Builder::new()
        .prefix("printscout-netsnmp-")
        .tempdir()
        .map_err(|e| format!("temp dir: {e}"))?;
    let output = Command::new(tool)
        .args(["-m", "", "-On", "-t", "2", "-r", "1"])
        .args(args)
        .env("SNMP_PERSISTENT_DIR", dir.path())
        .env("SNMPCONFPATH", dir.path())
        .env("MIBS", "")
        .output()
        .map_err(|e| format!("{tool} could not run ({e}): run scripts/setup.sh"))?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    // The tools announce creating their (temp) persistent dir on stderr: not an error.
    let stderr: String = String::from_utf8_lossy(&output.stderr)
        .lines()
        .filter(|l| !l.starts_with("Created directory:"))
        .map(|l| format!("{l}\n"))
        .collect();
    if output.status.success() && stderr.trim().is_empty() {
        Ok(stdout)
    } else {
        Err(format!(
            "{tool} {args:?} failed ({}): {stderr}{stdout}",
            output.status
        ))
    }
}

fn target(addr: SocketAddr) -> String {
    assert!(
        addr.ip().is_loopback(),
        "refusing to query non-loopback address {addr}"
    );
    match addr {
        SocketAddr::V4(a) => format!("udp:{a}"),
        SocketAddr::V6(a) => format!("udp6:{a}"),
    }
}

/// Parse `-On` output (`.OID = value`, values may continue on following lines). The
/// `endOfMibView` marker a v2c walk of `.1` ends with is not a varbind and is dropped.
pub fn parse_varbinds(text: &str) -> Vec<Varbind> {
    let mut out: Vec<Varbind> = Vec::new();
    for line in text.lines() {
        match line.split_once(" = ") {
            Some((_, value)) if value.starts_with("No more variables left in this MIB View") => {}
            Some((oid, value)) if oid.starts_with('.') && !oid.contains(' ') => {
                out.push(Varbind {
                    oid: oid.to_owned(),
                    value: value.to_owned(),
                });
            }
            _ => {
                if let Some(last) = out.last_mut() {
                    last.value.push('\n');
                    last.value.push_str(line);
                }
            }
        }
    }
    out
}

/// `snmpget -v2c`: the value text of `oid` (e.g. `STRING: "x"`). An absent OID is
/// `Ok("No Such Object available ...")`, as net-snmp prints it.
pub fn get_v2c(addr: SocketAddr, community: &str, oid: &str) -> Result<String, String> {
    let args = vec![
        "-v2c".into(),
        "-c".into(),
        community.into(),
        target(addr),
        oid.into(),
    ];
    let out = run("snmpget", &args)?;
    parse_varbinds(&out)
        .into_iter()
        .next()
        .map(|v| v.value)
        .ok_or_else(|| format!("snmpget printed no varbind: {out}"))
}

/// `snmpwalk -v2c` of the subtree `root`. net-snmp itself fails the walk if the agent
/// returns an OID that does not increase.
pub fn walk_v2c(addr: SocketAddr, community: &str, root: &str) -> Result<Vec<Varbind>, String> {
    let args = vec![
        "-v2c".into(),
        "-c".into(),
        community.into(),
        target(addr),
        root.into(),
    ];
    run("snmpwalk", &args).map(|out| parse_varbinds(&out))
}

/// `snmpget -v3` as `user` (authNoPriv or authPriv per its fields) in `context`
/// (empty = the default context).
pub fn get_v3(addr: SocketAddr, user: &V3User, context: &str, oid: &str) -> Result<String, String> {
    let mut args: Vec<String> = vec!["-v3".into(), "-u".into(), user.user.clone()];
    let auth = !user.auth_proto.eq_ignore_ascii_case("NONE");
    let privacy = match (&user.priv_proto, &user.priv_key) {
        (Some(proto), Some(key)) if !proto.eq_ignore_ascii_case("NONE") => Some((proto, key)),
        _ => None,
    };
    let level = match (auth, privacy.is_some()) {
        (true, true) => "authPriv",
        (true, false) => "authNoPriv",
        _ => "noAuthNoPriv",
    };
    args.extend(["-l".into(), level.into()]);
    if auth {
        // net-snmp spells SHA-2 as SHA-256 etc.
        let proto = match user.auth_proto.to_ascii_uppercase().as_str() {
            "SHA224" => "SHA-224".to_owned(),
            "SHA256" => "SHA-256".to_owned(),
            "SHA384" => "SHA-384".to_owned(),
            "SHA512" => "SHA-512".to_owned(),
            other => other.to_owned(),
        };
        args.extend(["-a".into(), proto, "-A".into(), user.auth_key.clone()]);
    }
    if let Some((proto, key)) = privacy {
        args.extend(["-x".into(), proto.clone(), "-X".into(), key.clone()]);
    }
    if !context.is_empty() {
        args.extend(["-n".into(), context.into()]);
    }
    args.extend([target(addr), oid.into()]);
    let out = run("snmpget", &args)?;
    parse_varbinds(&out)
        .into_iter()
        .next()
        .map(|v| v.value)
        .ok_or_else(|| format!("snmpget printed no varbind: {out}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_line_values_are_joined_to_their_varbind() {
        let text = ".1.3.6.1.2.1.1.5.0 = STRING: \"a\"\n\
                    .1.3.6.1.2.1.2.2.1.6.1 = Hex-STRING: 00 01 02 03 04 05 06 07 08 09 0A 0B 0C 0D 0E 0F \n\
                    10 11 \n\
                    .1.3.6.1.2.1.1.7.0 = INTEGER: 72\n";
        let varbinds = parse_varbinds(text);
        assert_eq!(varbinds.len(), 3);
        assert!(varbinds[1].value.ends_with("\n10 11 "));
        assert_eq!(varbinds[2].value, "INTEGER: 72");
    }
}
