//! Decoding one SNMP datagram into engine values, on async-snmp's public codec.
//! This is the path for every byte that arrives from the network outside a
//! matched request (broadcast discovery replies) and the target of the fuzzer.
//!
//! Invariant: any input gives `Ok` or `Err`, never a panic; encrypted v3
//! messages are reported as such, not guessed at.

use bytes::Bytes;

use super::{Oid, SnmpError, Value, Version};

/// A decoded datagram.
#[derive(Clone, Debug)]
pub struct Decoded {
    /// Protocol version of the message.
    pub version: Version,
    /// PDU type name (`Response`, `Report`, …).
    pub pdu_type: String,
    /// The request-id the message carries.
    pub request_id: i32,
    /// error-status (0 = noError).
    pub error_status: i32,
    /// error-index (1-based, 0 = none).
    pub error_index: i32,
    /// The variable bindings.
    pub varbinds: Vec<(Oid, Value)>,
}

/// Decodes one SNMP message.
pub fn decode_message(datagram: &[u8]) -> Result<Decoded, SnmpError> {
    let outcome = async_snmp::message::Message::decode(
        Bytes::copy_from_slice(datagram),
        async_snmp::DecodeConfig::default(),
    )
    .map_err(|e| SnmpError::Malformed(e.to_string()))?;
    let msg = outcome.value;
    let version = match msg.version() {
        async_snmp::Version::V1 => Version::V1,
        async_snmp::Version::V2c => Version::V2c,
        _ => Version::V3,
    };
    let pdu = msg.into_pdu().ok_or_else(|| {
        SnmpError::Malformed("encrypted or trap message without a readable PDU".into())
    })?;
    let (error_status, error_index) = pdu.error_fields().unwrap_or((0, 0));
    Ok(Decoded {
        version,
        pdu_type: format!("{:?}", pdu.pdu_type()),
        request_id: pdu.request_id(),
        error_status,
        error_index,
        varbinds: super::transport::convert(pdu.varbinds().to_vec()),
    })
}

/// Encodes a v1/v2c GET of `oids` with `community` and `request_id` (the
/// broadcast sender's packet; unicast requests go through the transport).
pub fn encode_get(
    version: Version,
    community: &[u8],
    request_id: i32,
    oids: &[Oid],
) -> Result<Vec<u8>, SnmpError> {
    let lib_version = match version {
        Version::V1 => async_snmp::Version::V1,
        Version::V2c => async_snmp::Version::V2c,
        Version::V3 => {
            return Err(SnmpError::Config("a community GET cannot be SNMPv3".into()));
        }
    };
    let lib_oids: Vec<async_snmp::Oid> = oids
        .iter()
        .map(|o| async_snmp::Oid::from_slice(o.arcs()))
        .collect();
    let pdu = async_snmp::pdu::RequestPdu::get(lib_version, request_id, &lib_oids)
        .map_err(|e| SnmpError::Config(e.to_string()))?;
    let community = community.to_vec();
    let msg = match version {
        Version::V1 => async_snmp::message::CommunityMessage::v1(community, pdu),
        _ => async_snmp::message::CommunityMessage::v2c(community, pdu),
    }
    .map_err(|e| SnmpError::Config(e.to_string()))?;
    msg.encode()
        .map(|b| b.to_vec())
        .map_err(|e| SnmpError::Config(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    // A v2c Response, community "public", request-id 1, one varbind
    // sysDescr.0 = "hi" (hand-assembled BER).
    const RESPONSE: &[u8] = &[
        0x30, 0x25, 0x02, 0x01, 0x01, 0x04, 0x06, b'p', b'u', b'b', b'l', b'i', b'c', 0xa2, 0x18,
        0x02, 0x01, 0x01, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00, 0x30, 0x0d, 0x30, 0x0b, 0x06, 0x07,
        0x2b, 0x06, 0x01, 0x02, 0x01, 0x01, 0x01, 0x04, 0x00,
    ];

    #[test]
    fn a_well_formed_response_decodes_to_engine_values() {
        let d = decode_message(RESPONSE).expect("decodes");
        assert_eq!(d.version, Version::V2c);
        assert_eq!(d.varbinds.len(), 1);
        assert_eq!(d.varbinds[0].0, Oid::lit("1.3.6.1.2.1.1.1"));
    }

    #[test]
    fn an_encoded_get_decodes_back_with_its_request_id_and_oids() {
        let oids = [Oid::lit("1.3.6.1.2.1.1.2.0"), Oid::lit("1.3.6.1.2.1.1.1.0")];
        let bytes = encode_get(Version::V2c, b"public", 4242, &oids).expect("encodes");
        let d = decode_message(&bytes).expect("decodes");
        assert_eq!(d.request_id, 4242);
        assert_eq!(d.pdu_type, "GetRequest");
        assert_eq!(d.varbinds.len(), 2);
        assert_eq!(d.varbinds[1].0, oids[1]);
    }

    #[test]
    fn every_truncation_of_a_response_is_an_error_not_a_panic() {
        for n in 0..RESPONSE.len() {
            assert!(
                decode_message(&RESPONSE[..n]).is_err(),
                "prefix of {n} bytes"
            );
        }
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(decode_message(b"\xff\xff\xff\xff hello").is_err());
        assert!(decode_message(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]).is_err());
    }
}
