//! Freepik's (Magnific's) Kling 3.0 Motion Control API, as documented at
//! docs.freepik.com/api-reference/video/kling-v3-motion-control: `POST
//! /v1/ai/video/kling-v3-motion-control-{pro|std}` with the `x-freepik-api-key` header, `GET …/{task-id}`
//! for the state (CREATED, IN_PROGRESS, COMPLETED, FAILED; outputs in `data.generated`), and `GET` on
//! the same path to list tasks.
//!
//! Freepik takes no idempotency key, so after a crash between the ledger's intent and the task id we
//! can only find the task in the list if the list echoes the inputs; when it does not, `find` says so
//! and the run refuses to re-send unless forced.

use serde_json::{Value, json};

use super::http::{Call, Http, Response, Secret, snippet};
use super::{Job, Provider, ProviderName, Reconciled, SubmitError, TaskState, Tier, WireRequest};

pub const DEFAULT_BASE: &str = "https://api.freepik.com";

pub struct Freepik {
    base: String,
    key: Secret,
    http: Http,
}

impl Freepik {
    pub fn new(base: String, key: Secret, http: Http) -> Freepik {
        http.add_secret(&key);
        Freepik { base, key, http }
    }

    fn path(&self, tier: Tier) -> String {
        format!(
            "{}/v1/ai/video/kling-v3-motion-control-{}",
            self.base,
            tier.name()
        )
    }

    fn headers(&self) -> Vec<(String, String)> {
        vec![
            ("x-freepik-api-key".into(), self.key.expose().to_string()),
            ("accept".into(), "application/json".into()),
        ]
    }

    fn body(job: &Job) -> Value {
        let mut b = json!({
            "image_url": job.image_url,
            "video_url": job.video_url,
            "character_orientation": job.orientation.name(),
        });
        if let Some(p) = &job.prompt {
            b["prompt"] = json!(p);
        }
        if let Some(c) = job.cfg_scale {
            b["cfg_scale"] = json!(c);
        }
        if let Some(w) = &job.webhook_url {
            b["webhook_url"] = json!(w);
        }
        b
    }
}

/// Turn a refused request into a message that names the cause and the fix.
pub(crate) fn rejection(provider: &str, what: &str, r: &Response) -> SubmitError {
    let v = r.json().unwrap_or(Value::Null);
    let mut msg = v
        .get("message")
        .or_else(|| v.get("detail"))
        .or_else(|| v.get("error"))
        .and_then(|m| m.as_str())
        .map(str::to_string)
        .unwrap_or_else(|| snippet(&r.body).trim_start_matches(": ").to_string());
    if let Some(params) = v.get("invalid_params").and_then(|p| p.as_array()) {
        let list: Vec<String> = params
            .iter()
            .map(|p| {
                format!(
                    "{}: {}",
                    p.get("name").and_then(|n| n.as_str()).unwrap_or("?"),
                    p.get("reason").and_then(|n| n.as_str()).unwrap_or("?")
                )
            })
            .collect();
        if !list.is_empty() {
            msg = format!("{msg} ({})", list.join("; "));
        }
    }
    let hint = match r.status {
        401 | 403 => " — check the API key in the environment",
        400 | 422 => {
            " — the request was refused as invalid; fix the parameters or assets (not retried)"
        }
        404 => " — wrong endpoint or task id; check --api-base",
        300..=399 => {
            " — the API answered with a redirect, which is not followed with a key; check --api-base"
        }
        _ => "",
    };
    SubmitError::Rejected(format!("{provider} {what}: HTTP {}: {msg}{hint}", r.status))
}

fn parse_state(data: &Value) -> Option<TaskState> {
    let status = data.get("status")?.as_str()?.to_string();
    Some(match status.to_ascii_uppercase().as_str() {
        "COMPLETED" => TaskState::Succeeded {
            urls: data
                .get("generated")
                .and_then(|g| g.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|u| u.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
        },
        "FAILED" => TaskState::Failed {
            reason: data
                .get("error")
                .or_else(|| data.get("message"))
                .or_else(|| data.get("reason"))
                .and_then(|m| m.as_str())
                .unwrap_or("Freepik reported FAILED without a reason")
                .to_string(),
        },
        _ => TaskState::Running { status },
    })
}

/// Parse a GET reply or a webhook body (the webhook is the GET reply without the `data` wrapper).
pub fn state_of(v: &Value) -> Option<(String, TaskState)> {
    let data = v.get("data").filter(|d| d.is_object()).unwrap_or(v);
    let id = data.get("task_id")?.as_str()?.to_string();
    Some((id, parse_state(data)?))
}

impl Provider for Freepik {
    fn name(&self) -> ProviderName {
        ProviderName::Freepik
    }

    fn create_request(&self, job: &Job) -> WireRequest {
        WireRequest {
            method: "POST",
            url: self.path(job.tier),
            headers: vec![("x-freepik-api-key".into(), "[redacted]".into())],
            body: Self::body(job),
        }
    }

    fn create(&self, job: &Job) -> Result<String, SubmitError> {
        let r = self.http.send(
            "freepik create",
            Call::Create,
            "POST",
            &self.path(job.tier),
            &self.headers(),
            Some(&Self::body(job)),
        )?;
        if !r.ok() {
            return Err(rejection("freepik", "create", &r));
        }
        r.json()
            .as_ref()
            .and_then(|v| super::str_at(v, &["data", "task_id"]))
            .map(str::to_string)
            .ok_or_else(|| {
                SubmitError::Ambiguous(format!(
                    "freepik create: HTTP {} but no data.task_id in the reply{}; the task may exist",
                    r.status,
                    snippet(&r.body)
                ))
            })
    }

    fn get(&self, job: &Job, task_id: &str) -> Result<TaskState, SubmitError> {
        let url = format!(
            "{}/{}",
            self.path(job.tier),
            super::assets::encode_segment(task_id)
        );
        let r = self.http.get("freepik status", &url, &self.headers())?;
        if !r.ok() {
            return Err(rejection("freepik", "status", &r));
        }
        r.json()
            .as_ref()
            .and_then(|v| v.get("data"))
            .and_then(parse_state)
            .ok_or_else(|| {
                SubmitError::Transient(format!(
                    "freepik status of {task_id}: unreadable reply{}",
                    snippet(&r.body)
                ))
            })
    }

    fn find(
        &self,
        job: &Job,
        known: &std::collections::HashSet<String>,
    ) -> Result<Reconciled, SubmitError> {
        let r = self
            .http
            .get("freepik list", &self.path(job.tier), &self.headers())?;
        if !r.ok() {
            return Err(rejection("freepik", "list", &r));
        }
        let Some(items) = r
            .json()
            .and_then(|v| v.get("data").and_then(|d| d.as_array()).cloned())
        else {
            return Ok(Reconciled::Unknown(format!(
                "the Freepik task list could not be read{}",
                snippet(&r.body)
            )));
        };
        Ok(match_listed(&items, job, "task_id", "Freepik", known))
    }
}

/// Match a listed task on the inputs the provider echoes (image and video URL, anywhere in the item).
/// When the list does not echo inputs, a task can still be ruled out: if every listed task is one
/// the ledger already knows (other pairs'), none of them is this job's.
pub(crate) fn match_listed(
    items: &[Value],
    job: &Job,
    id_key: &str,
    who: &str,
    known: &std::collections::HashSet<String>,
) -> Reconciled {
    let mut echoes = false;
    for item in items {
        let text = item.to_string();
        let has_urls = text.contains("image_url") || text.contains("video_url");
        echoes |= has_urls;
        let image_ok = job
            .image_url
            .as_ref()
            .is_none_or(|u| text.contains(&json!(u).to_string()));
        let video_ok = text.contains(&json!(job.video_url).to_string());
        if let Some(id) = item
            .get(id_key)
            .and_then(|i| i.as_str())
            .filter(|_| has_urls && image_ok && video_ok)
        {
            return Reconciled::Found(id.to_string());
        }
    }
    let unclaimed = items
        .iter()
        .filter_map(|i| i.get(id_key).and_then(|v| v.as_str()))
        .filter(|id| !known.contains(*id))
        .count();
    if echoes || unclaimed == 0 {
        Reconciled::NotFound
    } else {
        Reconciled::Unknown(format!(
            "{who}'s task list does not echo the inputs (image/video URL) and holds {unclaimed} task(s) this ledger does not know, so this job's task cannot be told apart from others"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::Orientation;

    fn job() -> Job {
        Job {
            image_url: Some("https://cdn/x.jpg".into()),
            image_base64: None,
            video_url: "https://cdn/y.mp4".into(),
            prompt: Some("studio light".into()),
            orientation: Orientation::Video,
            tier: Tier::Pro,
            cfg_scale: Some(0.5),
            keep_sound: Some(true),
            webhook_url: None,
            external_id: "k".into(),
        }
    }

    #[test]
    fn body_follows_the_openapi_schema() {
        let b = Freepik::body(&job());
        assert_eq!(b["image_url"], "https://cdn/x.jpg");
        assert_eq!(b["character_orientation"], "video");
        assert_eq!(b["cfg_scale"], 0.5);
        assert!(
            b.get("keep_original_sound").is_none(),
            "Freepik has no such field"
        );
        assert!(b.get("webhook_url").is_none());
    }

    #[test]
    fn states_and_webhook_bodies() {
        let v =
            json!({"data":{"task_id":"t1","status":"COMPLETED","generated":["https://o/1.mp4"]}});
        assert_eq!(
            state_of(&v),
            Some((
                "t1".into(),
                TaskState::Succeeded {
                    urls: vec!["https://o/1.mp4".into()]
                }
            ))
        );
        let hook = json!({"task_id":"t2","status":"FAILED","error":"content policy"});
        assert_eq!(
            state_of(&hook),
            Some((
                "t2".into(),
                TaskState::Failed {
                    reason: "content policy".into()
                }
            ))
        );
        let v = json!({"task_id":"t3","status":"IN_PROGRESS"});
        assert!(matches!(state_of(&v), Some((_, TaskState::Running { .. }))));
        assert_eq!(state_of(&json!({"x":1})), None);
    }

    #[test]
    fn listing_matches_only_on_echoed_inputs() {
        let j = job();
        let none = std::collections::HashSet::new();
        let echo = vec![
            json!({"task_id":"a","image_url":"https://cdn/other.jpg","video_url":"https://cdn/y.mp4"}),
            json!({"task_id":"b","image_url":"https://cdn/x.jpg","video_url":"https://cdn/y.mp4"}),
        ];
        assert_eq!(
            match_listed(&echo, &j, "task_id", "F", &none),
            Reconciled::Found("b".into())
        );
        assert_eq!(
            match_listed(&echo[..1], &j, "task_id", "F", &none),
            Reconciled::NotFound
        );
        let bare = vec![json!({"task_id":"a","status":"CREATED"})];
        assert!(matches!(
            match_listed(&bare, &j, "task_id", "F", &none),
            Reconciled::Unknown(_)
        ));
        let known: std::collections::HashSet<String> = ["a".to_string()].into();
        assert_eq!(
            match_listed(&bare, &j, "task_id", "F", &known),
            Reconciled::NotFound,
            "every listed task belongs to another pair"
        );
        assert_eq!(
            match_listed(&[], &j, "task_id", "F", &none),
            Reconciled::NotFound
        );
    }
}
