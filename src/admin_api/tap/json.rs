//! The value shapes of tap's JSON that Linkerd's `linkerd viz tap -o json` fixes: durations as
//! protobuf's `Duration` prints in Go (`{"seconds": 1, "nanos": 5000}`, zero parts left out),
//! header lists as `[{"name", "valueStr" | "valueBin"}]` (`null` when there are none), label maps
//! (`null` when empty).

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A duration as Linkerd's tap JSON prints one: whole seconds and the nanoseconds beyond them,
/// each left out when zero (Go's `encoding/json` of protobuf's `Duration`, whose fields are
/// `omitempty`), so 1.5 ms reads `{"nanos": 1500000}` and zero reads `{}`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProtoDuration {
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub seconds: i64,
    #[serde(default, skip_serializing_if = "is_zero_i32")]
    pub nanos: i32,
}

fn is_zero_i64(n: &i64) -> bool {
    *n == 0
}

fn is_zero_i32(n: &i32) -> bool {
    *n == 0
}

impl ProtoDuration {
    /// Whole microseconds, as `linkerd viz tap` prints latencies (`latency=812µs`); saturates
    /// instead of overflowing on values no proxy sends.
    pub fn as_micros(&self) -> i64 {
        self.seconds
            .saturating_mul(1_000_000)
            .saturating_add(i64::from(self.nanos) / 1_000)
    }
}

impl From<std::time::Duration> for ProtoDuration {
    fn from(d: std::time::Duration) -> Self {
        ProtoDuration {
            seconds: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            // Below one billion: fits.
            nanos: i32::try_from(d.subsec_nanos()).unwrap_or(i32::MAX),
        }
    }
}

/// One header (or trailer) as tap shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    pub name: String,
    #[serde(flatten)]
    pub value: HeaderValue,
}

/// A header's value: text when it is UTF-8 (`valueStr`), otherwise its bytes in base64
/// (`valueBin`), as Linkerd's tap server decides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum HeaderValue {
    #[serde(rename = "valueStr")]
    Str(String),
    #[serde(rename = "valueBin")]
    Bin(#[serde(with = "base64_bytes")] Vec<u8>),
}

impl Header {
    /// The header `name` with the raw value `bytes`.
    pub fn new(name: &str, bytes: &[u8]) -> Self {
        let value = match std::str::from_utf8(bytes) {
            Ok(text) => HeaderValue::Str(text.to_string()),
            Err(_) => HeaderValue::Bin(bytes.to_vec()),
        };
        Header {
            name: name.to_string(),
            value,
        }
    }

    /// The value when it is text.
    pub fn value_str(&self) -> Option<&str> {
        match &self.value {
            HeaderValue::Str(s) => Some(s),
            HeaderValue::Bin(_) => None,
        }
    }
}

mod base64_bytes {
    use super::*;

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&BASE64.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        BASE64.decode(text).map_err(serde::de::Error::custom)
    }
}

/// Serializes an empty list as `null`, as Go prints a nil slice (Linkerd's `headers` and
/// `trailers` when none were extracted).
pub fn empty_as_null<S: Serializer>(list: &[Header], s: S) -> Result<S::Ok, S::Error> {
    match list.is_empty() {
        true => s.serialize_none(),
        false => s.collect_seq(list),
    }
}

/// Reads `null` as the default value (an empty list or map), as Go reads it into a nil one.
pub fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Option::unwrap_or_default)
}

/// Serializes an empty label map as `null`, as Go prints a nil map.
pub fn empty_map_as_null<S: Serializer>(
    labels: &BTreeMap<String, String>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match labels.is_empty() {
        true => s.serialize_none(),
        false => labels.serialize(s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn durations_print_seconds_and_nanos_leaving_out_zeros() {
        let json = |d: Duration| serde_json::to_string(&ProtoDuration::from(d)).unwrap();
        assert_eq!(json(Duration::from_secs(10)), r#"{"seconds":10}"#);
        assert_eq!(json(Duration::from_micros(1500)), r#"{"nanos":1500000}"#);
        assert_eq!(
            json(Duration::from_millis(2250)),
            r#"{"seconds":2,"nanos":250000000}"#
        );
        assert_eq!(json(Duration::ZERO), "{}");
        let d: ProtoDuration = serde_json::from_str(r#"{"seconds":2,"nanos":250000000}"#).unwrap();
        assert_eq!(d.as_micros(), 2_250_000);
        let huge = ProtoDuration {
            seconds: i64::MAX,
            nanos: i32::MAX,
        };
        assert_eq!(huge.as_micros(), i64::MAX);
    }

    #[test]
    fn header_values_are_text_or_base64_bytes() {
        let text = Header::new("accept", b"*/*");
        assert_eq!(
            serde_json::to_string(&text).unwrap(),
            r#"{"name":"accept","valueStr":"*/*"}"#
        );
        let bytes = Header::new("x-bin", &[0xff, 0x00, 0x41]);
        let json = serde_json::to_string(&bytes).unwrap();
        assert_eq!(json, r#"{"name":"x-bin","valueBin":"/wBB"}"#);
        assert_eq!(serde_json::from_str::<Header>(&json).unwrap(), bytes);
        assert_eq!(bytes.value_str(), None);
        assert!(serde_json::from_str::<Header>(r#"{"name":"x","valueBin":"%%"}"#).is_err());
    }
}
