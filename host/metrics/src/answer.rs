//! Reading one Prometheus HTTP API answer: the JSON envelope, the four
//! result types, sample values as Prometheus writes them (strings, `NaN`,
//! `+Inf`, `-Inf`) and its error bodies. Pure: no I/O, no credentials; it
//! must not retry nor decide what an error means for a run.

use serde_json::Value;

use crate::{MetricSample, MetricSeries, MetricsError};

/// Series from Prometheus' answer `body` (HTTP `status`) to `query`, sent to `url`.
pub fn parse_answer(url: &str, query: &str, status: u16, body: &[u8]) -> Result<Vec<MetricSeries>, MetricsError> {
    let malformed = |reason: String| MetricsError::Malformed { url: url.to_string(), query: query.to_string(), status, reason };
    if status == 401 || status == 403 {
        return Err(MetricsError::Auth { url: url.to_string(), status });
    }
    let doc: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => {
            let text = String::from_utf8_lossy(&body[..body.len().min(200)]).trim().to_string();
            return Err(malformed(format!("not JSON ({e}); it began `{text}`")));
        }
    };
    match doc["status"].as_str() {
        Some("success") => {}
        Some("error") => {
            let error_type = doc["errorType"].as_str().unwrap_or("unknown").to_string();
            let message = doc["error"].as_str().unwrap_or("(no message)").to_string();
            return Err(if error_type == "bad_data" {
                MetricsError::BadQuery { url: url.to_string(), query: query.to_string(), message }
            } else {
                MetricsError::Execution { url: url.to_string(), query: query.to_string(), error_type, message }
            });
        }
        other => return Err(malformed(format!("`status` is {other:?}, not \"success\" or \"error\""))),
    }
    for w in doc["warnings"].as_array().into_iter().flatten() {
        tracing::warn!(%url, %query, warning = %w, "prometheus warned about a query");
    }
    let data = &doc["data"];
    let result = &data["result"];
    match data["resultType"].as_str() {
        Some("matrix") => {
            let rows = result.as_array().ok_or_else(|| malformed("a matrix whose `result` is not a list".into()))?;
            rows.iter()
                .map(|row| {
                    let values = row["values"].as_array().ok_or_else(|| malformed("a matrix row without `values`".into()))?;
                    let samples = values.iter().map(sample).collect::<Result<Vec<_>, _>>().map_err(malformed)?;
                    Ok(MetricSeries { labels: labels(&row["metric"]), samples })
                })
                .collect()
        }
        Some("vector") => {
            let rows = result.as_array().ok_or_else(|| malformed("a vector whose `result` is not a list".into()))?;
            rows.iter().map(|row| Ok(MetricSeries { labels: labels(&row["metric"]), samples: vec![sample(&row["value"]).map_err(malformed)?] })).collect()
        }
        Some("scalar") => Ok(vec![MetricSeries { labels: Vec::new(), samples: vec![sample(result).map_err(malformed)?] }]),
        Some("string") => Err(malformed("a `string` result has no numbers; ask for a number, vector or matrix".into())),
        other => Err(malformed(format!("`data.resultType` is {other:?}"))),
    }
}

/// Labels sorted by name.
fn labels(metric: &Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> =
        metric.as_object().into_iter().flatten().map(|(k, v)| (k.clone(), v.as_str().map(String::from).unwrap_or_else(|| v.to_string()))).collect();
    out.sort();
    out
}

/// `[<unix seconds>, "<value>"]`.
fn sample(pair: &Value) -> Result<MetricSample, String> {
    let (Some(t), Some(v)) = (pair[0].as_f64(), pair[1].as_str()) else {
        return Err(format!("a sample is `{pair}`, not [<unix time>, \"<value>\"]"));
    };
    if !t.is_finite() || t < 0.0 {
        return Err(format!("a sample has the time {t}"));
    }
    Ok(MetricSample { timestamp_ms: (t * 1000.0).round() as u64, value: value(v)? })
}

/// A sample value as Prometheus formats it (Go's `strconv.FormatFloat`, and `NaN`, `+Inf`, `-Inf`).
fn value(text: &str) -> Result<f64, String> {
    match text {
        "NaN" => Ok(f64::NAN),
        "+Inf" | "Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        _ => text.parse::<f64>().map_err(|_| format!("a sample value is `{text}`, not a number")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "http://127.0.0.1:9090";

    fn ok(body: &str) -> Vec<MetricSeries> {
        parse_answer(URL, "q", 200, body.as_bytes()).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn matrices_keep_labels_sorted_and_times_in_ms() {
        let s = ok(r#"{"status":"success","data":{"resultType":"matrix","result":[
            {"metric":{"track":"canary","__name__":"up"},"values":[[1700000000,"1"],[1700000000.5,"0.25"]]},
            {"metric":{},"values":[]}]}}"#);
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].labels, [("__name__".to_string(), "up".to_string()), ("track".to_string(), "canary".to_string())]);
        assert_eq!(s[0].samples, [MetricSample { timestamp_ms: 1_700_000_000_000, value: 1.0 }, MetricSample { timestamp_ms: 1_700_000_000_500, value: 0.25 }]);
        assert!(s[1].samples.is_empty());
    }

    #[test]
    fn vectors_and_scalars_have_one_sample_each() {
        let v = ok(r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"a":"b"},"value":[12.345,"3e2"]}]}}"#);
        assert_eq!(v[0].samples, [MetricSample { timestamp_ms: 12_345, value: 300.0 }]);
        let s = ok(r#"{"status":"success","data":{"resultType":"scalar","result":[1,"7"]}}"#);
        assert_eq!((s[0].labels.len(), s[0].samples[0].value), (0, 7.0));
        let empty = ok(r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#);
        assert!(empty.is_empty());
    }

    #[test]
    fn nan_and_infinities_are_values_not_errors() {
        let v = ok(r#"{"status":"success","data":{"resultType":"vector","result":[
            {"metric":{"i":"1"},"value":[1,"NaN"]},{"metric":{"i":"2"},"value":[1,"+Inf"]},{"metric":{"i":"3"},"value":[1,"-Inf"]}]}}"#);
        assert!(v[0].samples[0].value.is_nan());
        assert_eq!(v[1].samples[0].value, f64::INFINITY);
        assert_eq!(v[2].samples[0].value, f64::NEG_INFINITY);
    }

    #[test]
    fn bad_data_names_the_query_and_prometheus_message() {
        let body = r#"{"status":"error","errorType":"bad_data","error":"1:6: parse error: unexpected end of input"}"#;
        let e = parse_answer(URL, "rate(", 400, body.as_bytes()).unwrap_err();
        assert!(matches!(e, MetricsError::BadQuery { .. }), "{e:?}");
        let text = e.to_string();
        assert!(text.contains("`rate(`") && text.contains("unexpected end of input") && text.contains(URL), "{text}");
        assert_eq!(e.kind(), gantry_runtime::cluster::BackendErrorKind::Invalid);
        let body = r#"{"status":"error","errorType":"timeout","error":"query timed out in expression evaluation"}"#;
        let e = parse_answer(URL, "q", 503, body.as_bytes()).unwrap_err();
        assert_eq!(e.kind(), gantry_runtime::cluster::BackendErrorKind::Timeout, "{e}");
    }

    #[test]
    fn other_answers_are_malformed_and_say_what_came_back() {
        let e = parse_answer(URL, "q", 502, b"<html>Bad Gateway</html>").unwrap_err();
        assert!(e.to_string().contains("HTTP 502") && e.to_string().contains("Bad Gateway"), "{e}");
        assert!(matches!(parse_answer(URL, "q", 401, b"").unwrap_err(), MetricsError::Auth { status: 401, .. }));
        let e = parse_answer(URL, "q", 200, br#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"x"]}]}}"#).unwrap_err();
        assert!(e.to_string().contains("`x`"), "{e}");
        let e = parse_answer(URL, "q", 200, br#"{"status":"success","data":{"resultType":"string","result":[1,"x"]}}"#).unwrap_err();
        assert!(e.to_string().contains("string"), "{e}");
    }
}
