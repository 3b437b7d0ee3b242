//! Who a device is: the identity key that the `devices` table's unique index
//! is built on. A device is who it is, not where it is.
//!
//! Invariants: the key is `sn:<vendor>:<serial>` when the reading has a
//! plausible serial, else `mac:<mac>` when it has a usable MAC, else `None`
//! (the caller then keys the device by its address, `addr:<host:port>`,
//! until a stronger key shows up). Vendor and serial are compared
//! case-insensitively and without surrounding blanks.

use crate::printer::Reading;
use crate::printer::standard::plausible_serial;

/// The strong identity key of a reading, if it has one.
pub fn identity_key(r: &Reading) -> Option<String> {
    key_of(
        r.identity.vendor.as_deref(),
        r.identity.serial.as_deref(),
        r.identity.mac.as_deref(),
    )
}

/// The identity key from its parts.
pub fn key_of(vendor: Option<&str>, serial: Option<&str>, mac: Option<&str>) -> Option<String> {
    if let Some(s) = serial.map(str::trim).filter(|s| plausible_serial(s)) {
        let v = vendor.map(|v| v.trim().to_lowercase()).unwrap_or_default();
        return Some(format!("sn:{v}:{}", s.to_uppercase()));
    }
    usable_mac(mac).map(|m| format!("mac:{m}"))
}

/// A MAC worth matching on: six octets, not all zero or all ones, not multicast.
pub fn usable_mac(mac: Option<&str>) -> Option<String> {
    let m = mac?.trim().to_lowercase();
    let octets: Vec<u8> = m
        .split([':', '-'])
        .map(|p| u8::from_str_radix(p, 16))
        .collect::<Result<_, _>>()
        .ok()?;
    let ok = octets.len() == 6
        && octets.iter().any(|&b| b != 0)
        && octets.iter().any(|&b| b != 0xff)
        && octets[0] & 1 == 0;
    ok.then(|| {
        octets
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":")
    })
}

/// The weak key of a device known only by where it is.
pub fn address_key(address: &str) -> String {
    format!("addr:{address}")
}

/// Whether a key is strong (serial or MAC) rather than an address.
pub fn is_strong(key: &str) -> bool {
    !key.starts_with("addr:")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_serial_wins_over_a_mac_and_ignores_case_and_blanks() {
        assert_eq!(
            key_of(Some("HP "), Some(" cn12ab34 "), Some("00:11:22:33:44:55")),
            Some("sn:hp:CN12AB34".into())
        );
    }

    #[test]
    fn a_placeholder_serial_falls_back_to_the_mac() {
        assert_eq!(
            key_of(
                Some("Brother"),
                Some("000000000"),
                Some("00-1B-A9-00-00-01")
            ),
            Some("mac:00:1b:a9:00:00:01".into())
        );
    }

    #[test]
    fn an_all_zero_or_multicast_mac_is_no_identity() {
        assert_eq!(key_of(None, None, Some("00:00:00:00:00:00")), None);
        assert_eq!(key_of(None, None, Some("01:00:5e:00:00:01")), None);
        assert_eq!(key_of(None, None, Some("garbage")), None);
    }
}
