//! `spawn_app`: the real Vigil, in-process, on random ports, with a fresh
//! SQLite database, media folder and embedded broker per test.
#![allow(dead_code)]

use std::time::{Duration, Instant};
use vigil::{App, Config, Roles};

pub struct TestApp {
    pub app: App,
    pub base: String,
    pub client: reqwest::Client,
    pub _dir: tempfile::TempDir,
}

pub fn test_config(dir: &std::path::Path) -> Config {
    let mut c = Config {
        data_dir: dir.to_path_buf(),
        ..Default::default()
    };
    c.http.listen = "127.0.0.1:0".into();
    c.kafka.embedded_brokers = 1;
    c.kafka.partitions = 3;
    c.kafka.commit_interval_ms = 200;
    c.kafka.session_timeout_ms = 6000;
    c.kafka.max_poll_interval_ms = 8000;
    c.worker.count = 2;
    c.worker.hashdb_reload_secs = 3600;
    c.classifier.enabled = true;
    c
}

/// Give `config` one platform API key (`test-key` of platform `acme`) with
/// `scopes`, in a key file under `dir`; returns its bearer token.
pub fn platform_key(config: &mut Config, dir: &std::path::Path, scopes: &str) -> String {
    const SECRET: &str = "platform-key-secret-0123456789abcdef";
    let file = dir.join("platform-keys");
    std::fs::write(&file, format!("test-key acme {SECRET} {scopes}\n")).unwrap();
    config.hook.keys_file = Some(file);
    format!("test-key.{SECRET}")
}

pub async fn spawn_app_with(config: Config, roles: Roles, dir: tempfile::TempDir) -> TestApp {
    let app = App::start(&config, roles).await.expect("vigil starts");
    TestApp {
        base: format!("http://{}", app.http_addr),
        app,
        client: reqwest::Client::new(),
        _dir: dir,
    }
}

pub async fn spawn_app() -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let config = test_config(dir.path());
    spawn_app_with(config, Roles::ALL, dir).await
}

impl TestApp {
    pub async fn upload(
        &self,
        bytes: Vec<u8>,
        content_type: &str,
        surface: &str,
    ) -> reqwest::Response {
        let part = reqwest::multipart::Part::bytes(bytes)
            .file_name("f")
            .mime_str(content_type)
            .unwrap();
        let form = reqwest::multipart::Form::new()
            .part("file", part)
            .text("surface", surface.to_string());
        self.client
            .post(format!("{}/v1/uploads", self.base))
            .multipart(form)
            .send()
            .await
            .unwrap()
    }

    pub async fn upload_ok(&self, bytes: Vec<u8>, content_type: &str) -> String {
        let r = self.upload(bytes, content_type, "feed").await;
        assert_eq!(r.status().as_u16(), 202);
        let body: serde_json::Value = r.json().await.unwrap();
        body["upload_id"].as_str().unwrap().to_string()
    }

    /// Poll `GET /v1/uploads/{id}` until a verdict is there.
    pub async fn verdict(&self, id: &str) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let body: serde_json::Value = self
                .client
                .get(format!("{}/v1/uploads/{id}", self.base))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if !body["verdict"].is_null() {
                return body;
            }
            assert!(Instant::now() < deadline, "no verdict for {id}: {body}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// `POST` JSON; the status and the JSON answer (`null` when there is none).
    pub async fn post_json(&self, path: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
        let r = self
            .client
            .post(format!("{}{path}", self.base))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(serde_json::Value::Null))
    }

    /// `GET` a JSON document with a bearer token.
    pub async fn get_json_as(&self, path: &str, token: &str) -> serde_json::Value {
        self.client
            .get(format!("{}{path}", self.base))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// `GET` a JSON document.
    pub async fn get_json(&self, path: &str) -> serde_json::Value {
        self.client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    pub async fn metrics(&self) -> String {
        self.client
            .get(format!("{}/metrics", self.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }
}

/// The value of a metric line (name with labels, exactly as rendered).
pub fn metric_value(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| {
            l.strip_prefix(series)
                .and_then(|rest| rest.trim().parse().ok())
        })
        .unwrap_or(0.0)
}

pub fn png(img: &image::RgbImage) -> Vec<u8> {
    vigil::demo::encode_png(img)
}

pub fn jpeg(img: &image::RgbImage) -> Vec<u8> {
    vigil::demo::encode_jpeg(img, 90)
}

/// Create a review account and sign it in over the API: its bearer token.
pub async fn api_user(t: &TestApp, user: &str, role: vigil_store::Role) -> String {
    let password = format!("{user}-password-long");
    vigil_review::add_user(&t.app.store, user, role, &password)
        .await
        .unwrap();
    let (status, body) = t
        .post_json(
            "/api/login",
            serde_json::json!({"username": user, "password": password}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["token"].as_str().unwrap().to_string()
}

/// `POST` JSON with a bearer token; the status and the JSON answer.
pub async fn bearer_post(
    t: &TestApp,
    path: &str,
    token: &str,
    body: serde_json::Value,
) -> (u16, serde_json::Value) {
    let r = t
        .client
        .post(format!("{}{path}", t.base))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(serde_json::Value::Null))
}
