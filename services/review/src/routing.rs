//! Review routing: which queue a review item goes to, from the verdict's
//! matches (bank, label, signal type) and the upload's platform context
//! (surface, language). Pure: rules in, queue name out; the first rule whose
//! every condition holds wins, else the default queue. Reviewers serve the
//! queues they are assigned (`vigil user add … --queues`); leads and admins,
//! and reviewers with no assignment, serve every queue.

use serde::{Deserialize, Serialize};

/// Queue names are short, lower-case identifiers: they are a metric label
/// and are stored comma-separated on users.
pub const MAX_QUEUES: usize = 32;
const MAX_NAME: usize = 32;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum RoutingError {
    #[error("queue name {0:?}: use 1-32 characters from a-z, 0-9, '-' and '_'")]
    BadQueueName(String),
    #[error("route {0} has no condition (bank, label, signal, surface or language)")]
    NoCondition(usize),
    #[error("more than {MAX_QUEUES} distinct queues")]
    TooManyQueues,
}

/// One rule: every condition that is set must hold.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// Where matching items go.
    pub queue: String,
    /// A hash match in this bank (bank, label and signal must all hold
    /// for the same match).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bank: Option<String>,
    /// A hash match carrying this label (e.g. `gifct:glorification`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// A hash match of this signal type (`pdq`, `md5`, `vpdq`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<String>,
    /// The upload's surface (`feed`, `news`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub surface: Option<String>,
    /// The upload's language (as the platform sends it, e.g. `ar`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
}

/// The rules, in order, and where everything else goes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Routing {
    pub default_queue: String,
    pub routes: Vec<Route>,
}

impl Default for Routing {
    fn default() -> Self {
        Routing {
            default_queue: "general".into(),
            routes: Vec::new(),
        }
    }
}

/// What routing looks at: one item's matches and platform context.
#[derive(Debug, Clone, Default)]
pub struct RouteInput<'a> {
    /// `(bank, signal type, labels)` of each hash match.
    pub matches: Vec<(&'a str, &'a str, &'a [String])>,
    pub surface: &'a str,
    pub language: Option<&'a str>,
}

pub fn valid_queue_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

impl Routing {
    /// Checks names and conditions; a config with errors is refused at start.
    pub fn validate(&self) -> Result<(), RoutingError> {
        let mut names = std::collections::BTreeSet::new();
        for name in std::iter::once(&self.default_queue).chain(self.routes.iter().map(|r| &r.queue))
        {
            if !valid_queue_name(name) {
                return Err(RoutingError::BadQueueName(name.clone()));
            }
            names.insert(name.as_str());
        }
        if names.len() > MAX_QUEUES {
            return Err(RoutingError::TooManyQueues);
        }
        for (i, r) in self.routes.iter().enumerate() {
            if r.bank.is_none()
                && r.label.is_none()
                && r.signal.is_none()
                && r.surface.is_none()
                && r.language.is_none()
            {
                return Err(RoutingError::NoCondition(i));
            }
        }
        Ok(())
    }

    /// Every queue name the rules can produce, default first.
    pub fn queues(&self) -> Vec<&str> {
        let mut out = vec![self.default_queue.as_str()];
        for r in &self.routes {
            if !out.contains(&r.queue.as_str()) {
                out.push(&r.queue);
            }
        }
        out
    }

    /// The queue for one item.
    pub fn route(&self, input: &RouteInput<'_>) -> &str {
        self.routes
            .iter()
            .find(|r| matches(r, input))
            .map(|r| r.queue.as_str())
            .unwrap_or(&self.default_queue)
    }
}

/// Bank, signal and label conditions must hold for one and the same match.
fn matches(r: &Route, input: &RouteInput<'_>) -> bool {
    let on_match = |x: &(&str, &str, &[String])| {
        r.bank.as_deref().is_none_or(|b| x.0 == b)
            && r.signal
                .as_deref()
                .is_none_or(|s| x.1.eq_ignore_ascii_case(s))
            && r.label
                .as_deref()
                .is_none_or(|l| x.2.iter().any(|y| y == l))
    };
    let needs_match = r.bank.is_some() || r.signal.is_some() || r.label.is_some();
    let matched = !needs_match || input.matches.iter().any(on_match);
    let surface = r.surface.as_deref().is_none_or(|s| input.surface == s);
    let language = r
        .language
        .as_deref()
        .is_none_or(|l| input.language.is_some_and(|x| x.eq_ignore_ascii_case(l)));
    matched && surface && language
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> Routing {
        Routing {
            default_queue: "general".into(),
            routes: vec![
                Route {
                    queue: "arabic".into(),
                    language: Some("ar".into()),
                    ..Default::default()
                },
                Route {
                    queue: "news-desk".into(),
                    surface: Some("news".into()),
                    ..Default::default()
                },
                Route {
                    queue: "gifct".into(),
                    bank: Some("gifct-shared".into()),
                    label: Some("gifct:glorification".into()),
                    ..Default::default()
                },
                Route {
                    queue: "video".into(),
                    signal: Some("vpdq".into()),
                    ..Default::default()
                },
            ],
        }
    }

    fn feed<'a>(matches: Vec<(&'a str, &'a str, &'a [String])>) -> RouteInput<'a> {
        RouteInput {
            matches,
            surface: "feed",
            language: None,
        }
    }

    #[test]
    fn first_rule_whose_every_condition_holds_wins() {
        let r = rules();
        let l = vec!["gifct:glorification".to_string()];
        let o = vec!["gifct:recruitment".to_string()];
        assert_eq!(r.route(&feed(vec![("gifct-shared", "pdq", &l)])), "gifct");
        // Bank and label must both hold.
        assert_eq!(r.route(&feed(vec![("gifct-shared", "pdq", &o)])), "general");
        assert_eq!(r.route(&feed(vec![("local", "pdq", &l)])), "general");
        // Any of several matches may satisfy a condition.
        assert_eq!(
            r.route(&feed(vec![
                ("local", "pdq", &o),
                ("gifct-shared", "md5", &l)
            ])),
            "gifct"
        );
        assert_eq!(r.route(&feed(vec![("local", "vpdq", &o)])), "video");
        assert_eq!(r.route(&feed(vec![])), "general");
        // Order matters: a news upload in Arabic goes to the first rule.
        let news_ar = RouteInput {
            matches: vec![("gifct-shared", "pdq", &l)],
            surface: "news",
            language: Some("AR"),
        };
        assert_eq!(r.route(&news_ar), "arabic");
        let news = RouteInput {
            language: None,
            ..news_ar
        };
        assert_eq!(r.route(&news), "news-desk");
    }

    #[test]
    fn bad_configs_are_refused() {
        assert_eq!(Routing::default().validate(), Ok(()));
        assert_eq!(rules().validate(), Ok(()));
        assert_eq!(
            rules().queues(),
            ["general", "arabic", "news-desk", "gifct", "video"]
        );
        let mut r = rules();
        r.routes[1].queue = "News Desk".into();
        assert_eq!(
            r.validate(),
            Err(RoutingError::BadQueueName("News Desk".into()))
        );
        let mut r = rules();
        r.default_queue = "a,b".into();
        assert!(matches!(r.validate(), Err(RoutingError::BadQueueName(_))));
        let mut r = rules();
        r.routes.push(Route {
            queue: "catch-all".into(),
            ..Default::default()
        });
        assert_eq!(r.validate(), Err(RoutingError::NoCondition(4)));
        let r = Routing {
            default_queue: "general".into(),
            routes: (0..40)
                .map(|i| Route {
                    queue: format!("q{i}"),
                    surface: Some("feed".into()),
                    ..Default::default()
                })
                .collect(),
        };
        assert_eq!(r.validate(), Err(RoutingError::TooManyQueues));
    }

    #[test]
    fn rules_deserialize_strictly() {
        let r: Routing = serde_json::from_str(
            r#"{"default_queue": "general", "routes": [{"queue": "arabic", "language": "ar"}]}"#,
        )
        .unwrap();
        assert_eq!(r.routes[0].language.as_deref(), Some("ar"));
        let err = serde_json::from_str::<Routing>(r#"{"routes": [{"queue": "x", "lang": "ar"}]}"#);
        assert!(err.is_err(), "unknown keys are errors");
    }
}
