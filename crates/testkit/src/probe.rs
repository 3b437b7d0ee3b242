//! A hand-built SNMPv2c GET, used to decide that a peer is ready.
//!
//! Only std: no SNMP library, so readiness does not depend on the code under test.
//! "Answers" means a GetResponse-PDU came back with our request-id; its varbind may be
//! `noSuchObject` (the probe OID need not be in the recording).

use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

/// sysDescr.0: present in most recordings, and any answer will do.
const PROBE_OID: &[u32] = &[1, 3, 6, 1, 2, 1, 1, 1, 0];

/// True when `addr` answers an SNMPv2c GET for sysDescr.0 with `community` within
/// `timeout` (any GetResponse counts, including `noSuchObject`).
pub fn v2c_get_answers(addr: SocketAddr, community: &str, timeout: Duration) -> bool {
    assert!(
        addr.ip().is_loopback(),
        "refusing to probe non-loopback address {addr}"
    );
    let bind = if addr.is_ipv4() {
        "127.0.0.1:0"
    } else {
        "[::1]:0"
    };
    let Ok(socket) = UdpSocket::bind(bind) else {
        return false;
    };
    if socket.connect(addr).is_err() || socket.set_read_timeout(Some(timeout)).is_err() {
        return false;
    }
    let request_id = request_id();
    if socket
        .send(&get_request(community, request_id, PROBE_OID))
        .is_err()
    {
        return false;
    }
    let mut buf = [0u8; 65_535];
    let deadline = std::time::Instant::now() + timeout;
    while std::time::Instant::now() < deadline {
        match socket.recv(&mut buf) {
            Ok(n) if is_response_to(&buf[..n], request_id) => return true,
            Ok(_) => {}
            Err(_) => return false,
        }
    }
    false
}

fn request_id() -> i32 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(1);
    // Positive, non-zero, fits in 4 content bytes.
    i32::try_from(nanos % 0x7fff_0000).unwrap_or(1) + 1
}

fn push_len(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(u8::try_from(len).unwrap_or(0));
    } else if len <= 0xff {
        out.extend([0x81, u8::try_from(len).unwrap_or(0)]);
    } else {
        let len = u16::try_from(len).expect("probe packets are small");
        out.push(0x82);
        out.extend(len.to_be_bytes());
    }
}

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    push_len(&mut out, content.len());
    out.extend_from_slice(content);
    out
}

fn encode_oid(arcs: &[u32]) -> Vec<u8> {
    let mut out = vec![u8::try_from(arcs[0] * 40 + arcs[1]).expect("first two arcs")];
    for &arc in &arcs[2..] {
        let mut groups = vec![u8::try_from(arc & 0x7f).unwrap_or(0)];
        let mut rest = arc >> 7;
        while rest > 0 {
            groups.push(u8::try_from(rest & 0x7f).unwrap_or(0) | 0x80);
            rest >>= 7;
        }
        groups.reverse();
        out.extend(groups);
    }
    out
}

/// Message ::= SEQUENCE { version 1 (v2c), community, GetRequest-PDU [0] {
///   request-id, error-status 0, error-index 0, varbinds { { oid, NULL } } } }
fn get_request(community: &str, request_id: i32, oid: &[u32]) -> Vec<u8> {
    let varbind = [tlv(0x06, &encode_oid(oid)), vec![0x05, 0x00]].concat();
    let varbinds = tlv(0x30, &tlv(0x30, &varbind));
    let pdu = [
        tlv(0x02, &request_id.to_be_bytes()),
        vec![0x02, 0x01, 0x00],
        vec![0x02, 0x01, 0x00],
        varbinds,
    ]
    .concat();
    let message = [
        vec![0x02, 0x01, 0x01],
        tlv(0x04, community.as_bytes()),
        tlv(0xa0, &pdu),
    ]
    .concat();
    tlv(0x30, &message)
}

/// Reads one TLV at the start of `data`: (tag, content, rest).
fn read_tlv(data: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = data.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

fn is_response_to(packet: &[u8], request_id: i32) -> bool {
    let parse = || -> Option<bool> {
        let (tag, message, _) = read_tlv(packet)?;
        if tag != 0x30 {
            return None;
        }
        let (_, _version, rest) = read_tlv(message)?;
        let (_, _community, rest) = read_tlv(rest)?;
        let (pdu_tag, pdu, _) = read_tlv(rest)?;
        let (id_tag, id, _) = read_tlv(pdu)?;
        let id = id.iter().fold(0i64, |acc, &b| (acc << 8) | i64::from(b));
        Some(pdu_tag == 0xa2 && id_tag == 0x02 && id == i64::from(request_id))
    };
    parse().unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_request_encodes_a_v2c_get_for_sysdescr() {
        let packet = get_request("public", 0x0102_0304, PROBE_OID);
        let expected: &[u8] = &[
            0x30, 0x29, // Message
            0x02, 0x01, 0x01, // version v2c
            0x04, 0x06, b'p', b'u', b'b', b'l', b'i', b'c', // community
            0xa0, 0x1c, // GetRequest-PDU
            0x02, 0x04, 0x01, 0x02, 0x03, 0x04, // request-id
            0x02, 0x01, 0x00, 0x02, 0x01, 0x00, // error-status, error-index
            0x30, 0x0e, 0x30, 0x0c, // varbind list, varbind
            0x06, 0x08, 0x2b, 0x06, 0x01, 0x02, 0x01, 0x01, 0x01, 0x00, // 1.3.6.1.2.1.1.1.0
            0x05, 0x00, // NULL
        ];
        assert_eq!(packet, expected);
    }

    #[test]
    fn large_oid_arcs_use_base_128() {
        assert_eq!(
            encode_oid(&[1, 3, 6, 1, 4, 1, 18334]),
            [0x2b, 0x06, 0x01, 0x04, 0x01, 0x81, 0x8f, 0x1e]
        );
    }

    #[test]
    fn a_response_is_matched_by_request_id() {
        let mut response = get_request("public", 77, PROBE_OID);
        response[13] = 0xa2; // turn the GetRequest into a GetResponse
        assert!(is_response_to(&response, 77));
        assert!(!is_response_to(&response, 78));
        assert!(!is_response_to(&get_request("public", 77, PROBE_OID), 77));
        assert!(!is_response_to(&[0x30, 0x05, 0x02], 77));
    }
}
