//! The IdP's TLS certificate: days until it expires (an expired or untrusted one already fails
//! the handshake, which the discovery check reports).

use std::time::Duration;

use super::{Finding, Severity};
use crate::clock::{Clock, SystemClock};

/// Fewer days than this left is a warning: certificate renewals fail quietly.
const WARN_DAYS: i64 = 30;

pub(super) async fn certificate(url: &str, check: &str) -> Option<Finding> {
    let parsed = url::Url::parse(url).ok()?;
    if parsed.scheme() != "https" {
        let local = matches!(parsed.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
        return (!local).then(|| {
            Finding::new(
                Severity::Warning,
                check,
                format!("{url} is plain http: tokens and secrets cross the network unencrypted"),
            )
            .fix("use the IdP's https URL")
        });
    }
    let client = crate::outbound::builder().tls_info(true).build().ok()?;
    let response = client
        .get(url)
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .ok()?;
    let info = response.extensions().get::<reqwest::tls::TlsInfo>()?;
    let expires = not_after(info.peer_certificate()?)?;
    let days = (expires - SystemClock.now_seconds()).div_euclid(86_400);
    let host = parsed.host_str().unwrap_or_default();
    Some(if days < WARN_DAYS {
        Finding::new(
            Severity::Warning,
            check,
            format!("the TLS certificate of {host} expires in {days} days"),
        )
        .fix("renew the IdP's certificate (or make sure its automatic renewal works)")
    } else {
        Finding::new(
            Severity::Ok,
            check,
            format!("the TLS certificate of {host} is valid for {days} more days"),
        )
    })
}

/// `notAfter` of a DER X.509 certificate, as Unix seconds.
pub(super) fn not_after(der: &[u8]) -> Option<i64> {
    let (_, certificate, _) = tlv(der)?;
    let (_, tbs, _) = tlv(certificate)?;
    let mut rest = tbs;
    // [0] version (optional), serialNumber, signature, issuer, then validity.
    let (tag, _, after) = tlv(rest)?;
    if tag == 0xA0 {
        rest = after;
    }
    for _ in 0..3 {
        rest = tlv(rest)?.2;
    }
    let (_, validity, _) = tlv(rest)?;
    let (_, _, after_not_before) = tlv(validity)?;
    let (tag, time, _) = tlv(after_not_before)?;
    parse_time(tag, std::str::from_utf8(time).ok()?)
}

/// One DER element: its tag, its contents, and what follows it.
fn tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (length, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7F);
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let length = rest[..count]
            .iter()
            .fold(0usize, |acc, &byte| (acc << 8) | usize::from(byte));
        (length, &rest[count..])
    };
    (rest.len() >= length).then(|| (tag, &rest[..length], &rest[length..]))
}

/// UTCTime (`YYMMDDHHMMSSZ`) or GeneralizedTime (`YYYYMMDDHHMMSSZ`).
fn parse_time(tag: u8, text: &str) -> Option<i64> {
    let text = text.strip_suffix('Z')?;
    let (year, rest) = match tag {
        0x17 => {
            let short: i32 = text.get(..2)?.parse().ok()?;
            (
                if short >= 50 {
                    1900 + short
                } else {
                    2000 + short
                },
                text.get(2..)?,
            )
        }
        0x18 => (text.get(..4)?.parse().ok()?, text.get(4..)?),
        _ => return None,
    };
    let field = |range: std::ops::Range<usize>| rest.get(range)?.parse::<u8>().ok();
    let month = time::Month::try_from(field(0..2)?).ok()?;
    let date = time::Date::from_calendar_date(year, month, field(2..4)?).ok()?;
    let time = time::Time::from_hms(field(4..6)?, field(6..8)?, field(8..10)?).ok()?;
    Some(
        time::PrimitiveDateTime::new(date, time)
            .assume_utc()
            .unix_timestamp(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_in_both_encodings() {
        assert_eq!(parse_time(0x17, "491231235959Z"), Some(2_524_607_999));
        assert_eq!(parse_time(0x18, "20491231235959Z"), Some(2_524_607_999));
        assert_eq!(parse_time(0x17, "700101000000Z"), Some(0));
        assert_eq!(parse_time(0x17, "7001010000Z"), None);
        assert_eq!(tlv(&[0x30, 0x82, 0x01]), None);
    }
}
