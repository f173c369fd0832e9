//! The official Kling API (Kuaishou), as documented in its Motion Control reference: `POST
//! /v1/videos/motion-control` with `model_name: kling-v3`, `mode` std|pro and our ledger key as
//! `external_task_id`; `GET …/motion-control/{task_id|external_task_id}`; statuses submitted,
//! processing, succeed, failed. Authentication is a short-lived JWT (HS256) signed with the secret key.
//!
//! `external_task_id` is what makes Kling the safe provider to resume: after a crash between the
//! ledger's intent and the task id, the task is looked up by our own key, and a re-send with the same
//! id would be refused by Kling rather than billed twice.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use super::http::{Call, Http, Response, Secret, snippet};
use super::{Job, Provider, ProviderName, Reconciled, SubmitError, TaskState, WireRequest};

pub const DEFAULT_BASE: &str = "https://api-singapore.klingai.com";
pub const MODEL: &str = "kling-v3";

pub struct Kling {
    base: String,
    access: Secret,
    secret: Secret,
    http: Http,
    /// The current token and when it was made: reused for 25 of its 30 minutes, so a long poll does
    /// not mint (and register for scrubbing) a token per request.
    token: std::sync::Mutex<Option<(u64, String)>>,
}

/// A JWT (HS256) `{iss: AK, exp: now+1800, nbf: now-5}` signed with SK, as Kling's docs specify.
pub fn jwt(access_key: &str, secret_key: &str, now_unix: u64) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let claims =
        json!({"iss": access_key, "exp": now_unix + 1800, "nbf": now_unix.saturating_sub(5)});
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signing_input = format!("{header}.{payload}");
    let mut mac = Hmac::<Sha256>::new_from_slice(secret_key.as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(signing_input.as_bytes());
    let sig = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("{signing_input}.{sig}")
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Kling {
    pub fn new(base: String, access: Secret, secret: Secret, http: Http) -> Kling {
        http.add_secret(&access);
        http.add_secret(&secret);
        Kling {
            base,
            access,
            secret,
            http,
            token: std::sync::Mutex::new(None),
        }
    }

    fn path(&self) -> String {
        format!("{}/v1/videos/motion-control", self.base)
    }

    fn headers(&self) -> Vec<(String, String)> {
        let t = now();
        let mut cached = self.token.lock().unwrap_or_else(|e| e.into_inner());
        let token = match cached.as_ref() {
            Some((made, tok)) if t.saturating_sub(*made) < 25 * 60 => tok.clone(),
            _ => {
                let tok = jwt(self.access.expose(), self.secret.expose(), t);
                // The token is derived from the keys: never let it into a message either.
                self.http.add_secret(&Secret::new(&tok));
                *cached = Some((t, tok.clone()));
                tok
            }
        };
        vec![("authorization".into(), format!("Bearer {token}"))]
    }

    fn body(job: &Job) -> Value {
        let image = match (&job.image_base64, &job.image_url) {
            (Some(b64), _) => b64.clone(),
            (None, Some(u)) => u.clone(),
            (None, None) => String::new(),
        };
        let mut b = json!({
            "model_name": MODEL,
            "image_url": image,
            "video_url": job.video_url,
            "character_orientation": job.orientation.name(),
            "mode": job.tier.name(),
            "external_task_id": job.external_id,
        });
        if let Some(p) = &job.prompt {
            b["prompt"] = json!(p);
        }
        if let Some(k) = job.keep_sound {
            b["keep_original_sound"] = json!(if k { "yes" } else { "no" });
        }
        if let Some(w) = &job.webhook_url {
            b["callback_url"] = json!(w);
        }
        b
    }

    /// Kling answers HTTP 200 with `code != 0` for some failures, and 429 both for "slow down"
    /// (1302, 1303: retry) and "resource pack depleted" (1102: buying credits is the fix).
    fn check(&self, what: &str, r: &Response) -> Result<Value, SubmitError> {
        let v = r.json();
        let code = v
            .as_ref()
            .and_then(|v| v.get("code"))
            .and_then(|c| c.as_i64());
        let msg = v
            .as_ref()
            .and_then(|v| v.get("message"))
            .and_then(|m| m.as_str())
            .unwrap_or("")
            .to_string();
        if r.ok() && code == Some(0) {
            return Ok(v.unwrap_or(Value::Null));
        }
        if r.ok() && code.is_none() {
            return Err(SubmitError::Ambiguous(format!(
                "kling {what}: HTTP {} with an unreadable reply{}",
                r.status,
                snippet(&r.body)
            )));
        }
        let hint = match code {
            Some(1000..=1004) => " — check KLING_ACCESS_KEY / KLING_SECRET_KEY",
            Some(1102) => " — the resource pack is depleted: buy credits (not retried)",
            Some(1201) => " — invalid parameters (not retried)",
            Some(1301) => " — refused by content safety (not retried)",
            _ => "",
        };
        Err(SubmitError::Rejected(format!(
            "kling {what}: HTTP {} code {}: {msg}{hint}",
            r.status,
            code.map(|c| c.to_string()).unwrap_or_else(|| "?".into())
        )))
    }

    fn query(&self, id: &str) -> Result<Response, SubmitError> {
        let url = format!("{}/{}", self.path(), super::assets::encode_segment(id));
        self.http.get("kling status", &url, &self.headers())
    }
}

/// Parse a query reply's `data` or a callback body (the task object).
pub fn state_of(v: &Value) -> Option<(String, TaskState)> {
    let data = v.get("data").filter(|d| d.is_object()).unwrap_or(v);
    let id = data.get("task_id")?.as_str()?.to_string();
    let status = data.get("task_status")?.as_str()?.to_string();
    let state = match status.as_str() {
        "succeed" | "succeeded" => TaskState::Succeeded {
            urls: data
                .pointer("/task_result/videos")
                .and_then(|a| a.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.get("url").and_then(|u| u.as_str()).map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
        },
        "failed" => TaskState::Failed {
            reason: data
                .get("task_status_msg")
                .and_then(|m| m.as_str())
                .filter(|m| !m.is_empty())
                .unwrap_or("Kling reported failed without task_status_msg")
                .to_string(),
        },
        _ => TaskState::Running { status },
    };
    Some((id, state))
}

impl Provider for Kling {
    fn name(&self) -> ProviderName {
        ProviderName::Kling
    }

    fn create_request(&self, job: &Job) -> WireRequest {
        let mut body = Self::body(job);
        if job.image_base64.is_some() {
            body["image_url"] = json!("[base64 image data]");
        }
        WireRequest {
            method: "POST",
            url: self.path(),
            headers: vec![("authorization".into(), "Bearer [redacted JWT]".into())],
            body,
        }
    }

    fn create(&self, job: &Job) -> Result<String, SubmitError> {
        let depleted = |r: &Response| {
            r.json()
                .and_then(|v| v.get("code").and_then(|c| c.as_i64()))
                == Some(1102)
        };
        let r = self.http.send_with(
            "kling create",
            Call::Create,
            "POST",
            &self.path(),
            &self.headers(),
            Some(&Self::body(job)),
            &depleted,
        )?;
        let v = self.check("create", &r)?;
        v.pointer("/data/task_id")
            .and_then(|t| t.as_str())
            .map(str::to_string)
            .ok_or_else(|| {
                SubmitError::Ambiguous(format!(
                    "kling create: no data.task_id in the reply{}; the task may exist",
                    snippet(&r.body)
                ))
            })
    }

    fn get(&self, _job: &Job, task_id: &str) -> Result<TaskState, SubmitError> {
        let r = self.query(task_id)?;
        let v = self.check("status", &r).map_err(|e| match e {
            SubmitError::Ambiguous(m) => SubmitError::Transient(m),
            e => e,
        })?;
        state_of(&v).map(|(_, s)| s).ok_or_else(|| {
            SubmitError::Transient(format!(
                "kling status of {task_id}: unreadable reply{}",
                snippet(&r.body)
            ))
        })
    }

    fn find(
        &self,
        job: &Job,
        _known: &std::collections::HashSet<String>,
    ) -> Result<Reconciled, SubmitError> {
        let r = self.query(&job.external_id)?;
        if r.status == 404 {
            return Ok(Reconciled::NotFound);
        }
        match self.check("lookup", &r) {
            Ok(v) => Ok(match state_of(&v) {
                Some((id, _)) => Reconciled::Found(id),
                None => Reconciled::NotFound,
            }),
            // Kling refuses a duplicate external_task_id, so an unknown id is safe to send.
            Err(SubmitError::Rejected(m)) if r.status == 400 || r.status == 404 => {
                let _ = m;
                Ok(Reconciled::NotFound)
            }
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::Orientation;
    use crate::submit::Tier;

    #[test]
    fn jwt_is_hs256_over_the_documented_claims() {
        let t = jwt("AK", "SK", 1_000_000);
        let parts: Vec<&str> = t.split('.').collect();
        assert_eq!(parts.len(), 3);
        let claims: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(claims, json!({"iss":"AK","exp":1_001_800,"nbf":999_995}));
        let mut mac = Hmac::<Sha256>::new_from_slice(b"SK").unwrap();
        mac.update(format!("{}.{}", parts[0], parts[1]).as_bytes());
        mac.verify_slice(&URL_SAFE_NO_PAD.decode(parts[2]).unwrap())
            .unwrap();
        assert!(!t.contains("SK"));
    }

    #[test]
    fn body_and_states() {
        let job = Job {
            image_url: None,
            image_base64: Some("QUJD".into()),
            video_url: "https://cdn/v.mp4".into(),
            prompt: None,
            orientation: Orientation::Image,
            tier: Tier::Std,
            cfg_scale: None,
            keep_sound: Some(false),
            webhook_url: Some("https://hook".into()),
            external_id: "kp-1".into(),
        };
        let b = Kling::body(&job);
        assert_eq!(b["image_url"], "QUJD");
        assert_eq!(b["model_name"], "kling-v3");
        assert_eq!(b["mode"], "std");
        assert_eq!(b["keep_original_sound"], "no");
        assert_eq!(b["external_task_id"], "kp-1");
        assert_eq!(b["callback_url"], "https://hook");
        let v = json!({"code":0,"data":{"task_id":"t","task_status":"succeed","task_result":{"videos":[{"url":"https://o.mp4"}]}}});
        assert_eq!(
            state_of(&v).unwrap().1,
            TaskState::Succeeded {
                urls: vec!["https://o.mp4".into()]
            }
        );
        let v =
            json!({"task_id":"t","task_status":"failed","task_status_msg":"no person detected"});
        assert_eq!(
            state_of(&v).unwrap().1,
            TaskState::Failed {
                reason: "no person detected".into()
            }
        );
    }
}
