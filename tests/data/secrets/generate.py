#!/usr/bin/env python3
"""Writes corpus.jsonl.gz: a labelled corpus for the secrets/PII scanner.

Every "secret" here is made up: generated from a fixed seed, format-valid (right prefix, length and alphabet) so a
scanner must treat it as real, and where the format allows it, marked with FAKE inside the value. None was ever a
credential. Run: python3 tests/data/secrets/generate.py  (output is deterministic)
"""
import gzip
import base64, json, os, random, string

rng = random.Random(20261201)
A = string.ascii_letters + string.digits
B32 = string.ascii_uppercase + "234567"
B64 = string.ascii_letters + string.digits + "+/"

def r(alpha, n): return "".join(rng.choice(alpha) for _ in range(n))
def aws_id(): return "AKIAFAKE" + r(B32, 12)
def aws_secret(): return r(B64, 40)
def ghp(p="ghp_"): return p + "FAKE" + r(A, 32)
def gh_pat(): return "github_pat_" + "FAKE" + r(A, 18) + "_" + r(A, 59)
def glpat(): return "glpat-" + "FAKE" + r(A + "_-", 16)
def hf(): return "hf_" + "FAKE" + r(A, 30)
def slack(kind="b"): return f"xox{kind}-{r(string.digits, 11)}-{r(string.digits, 12)}-FAKE{r(A, 20)}"
def stripe(p="sk_live_"): return p + "FAKE" + r(A, 28)
def b64url(b): return base64.urlsafe_b64encode(b).decode().rstrip("=")
def jwt():
    h = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    p = b64url(json.dumps({"sub": "fake-user-" + r(string.digits, 4), "name": "Fake Person", "iat": 1700000000 + rng.randint(0, 10**6)}).encode())
    return f"{h}.{p}.{b64url(bytes(rng.randrange(256) for _ in range(32)))}"
def pem_body(lines=8): return "\n".join(r(B64, 64) for _ in range(lines))
def pem(label="RSA PRIVATE KEY", lines=8): return f"-----BEGIN {label}-----\n{pem_body(lines)}\n-----END {label}-----"
def azure_key(): return r(B64, 86) + "=="
def password(): return r(string.ascii_letters, 4) + r(string.digits, 2) + rng.choice("!@#%^&*") + r(A, 7) + rng.choice("!@#%^&*") + r(A, 3)
def hex_(n): return r("0123456789abcdef", n)

records = []
def pos(text, *findings): records.append({"text": text, "expected": [{"kind": k, "value": v} for k, v in findings]})
def neg(text): records.append({"text": text, "expected": []})

# ---------------------------------------------------------------- positives
for _ in range(3):
    k, s = aws_id(), aws_secret()
    pos(f'use aws_sdk_s3::Client;\n\nconst ACCESS_KEY_ID: &str = "{k}";\nconst SECRET_ACCESS_KEY: &str = "{s}";\n\nfn client() -> Client {{\n    let creds = Credentials::new(ACCESS_KEY_ID, SECRET_ACCESS_KEY, None, None, "static");\n    Client::from_conf(config(creds))\n}}\n',
        ("aws_access_key_id", k), ("aws_secret_access_key", s))
k, s = aws_id(), aws_secret()
pos(f'[default]\naws_access_key_id = {k}\naws_secret_access_key = {s}\nregion = eu-west-1\n', ("aws_access_key_id", k), ("aws_secret_access_key", s))
k = aws_id()
pos(f'deploy:\n  provider: s3\n  access_key_id: {k}\n  bucket: release-artifacts\n', ("aws_access_key_id", k))
k = aws_id()
pos(f'// TODO: move to vault before release, key {k} is temporary\nfn upload(path: &Path) -> io::Result<()> {{\n    todo!()\n}}\n', ("aws_access_key_id", k))

for _ in range(3):
    kid = hex_(40)
    key = pem("PRIVATE KEY", 10).replace("\n", "\\n")
    pos('const SERVICE_ACCOUNT: &str = r#"{\n  "type": "service_account",\n  "project_id": "fake-project-123",\n  "private_key_id": "' + kid +
        '",\n  "private_key": "' + key + '\\n",\n  "client_email": "ci-bot@fake-project-123.iam.gserviceaccount.com"\n}"#;\n',
        ("gcp_service_account_key", kid), ("private_key", key), ("email", "ci-bot@fake-project-123.iam.gserviceaccount.com"))

for i in range(3):
    k = azure_key()
    pos(f'let conn = "DefaultEndpointsProtocol=https;AccountName=fakestore{i};AccountKey={k};EndpointSuffix=core.windows.net";\nlet client = BlobServiceClient::from_connection_string(conn)?;\n', ("azure_storage_key", k))

for p in ["ghp_", "gho_", "ghs_"]:
    t = ghp(p)
    pos(f'let octo = Octocrab::builder()\n    .personal_token("{t}".to_string())\n    .build()?;\n', ("github_token", t))
t = ghp()
pos(f'env:\n  GITHUB_TOKEN: {t}\n  RUST_BACKTRACE: 1\n', ("github_token", t))
t = gh_pat()
pos(f'[github]\ntoken = "{t}"\nowner = "example-org"\n', ("github_token", t))
t = ghp("ghu_")
pos(f'    headers.insert(AUTHORIZATION, HeaderValue::from_static("token {t}"));\n', ("github_token", t))

for _ in range(3):
    t = glpat()
    pos(f'fn gitlab() -> Gitlab {{\n    Gitlab::new("gitlab.com", "{t}").expect("gitlab client")\n}}\n', ("gitlab_token", t))

for tmpl in ['let api = hf_hub::api::sync::ApiBuilder::new().with_token(Some("{t}".into())).build()?;\n',
             'HF_TOKEN={t}\nMODEL_ID=fake-org/tiny-model\n',
             '# huggingface credentials\nhub:\n  token: "{t}"\n',
             'std::env::set_var("HUGGING_FACE_HUB_TOKEN", "{t}");\n']:
    t = hf()
    pos(tmpl.format(t=t), ("huggingface_token", t))

for kind in ["b", "p", "a"]:
    t = slack(kind)
    pos(f'let slack = SlackClient::new("{t}");\nslack.post_message("#alerts", &msg).await?;\n', ("slack_token", t))
hook = f"https://hooks.slack.com/services/T{r(string.ascii_uppercase + string.digits, 10)}/B{r(string.ascii_uppercase + string.digits, 10)}/{r(A, 24)}"
pos(f'[notify]\nwebhook = "{hook}"\n', ("slack_token", hook))

for p in ["sk_live_", "rk_live_", "sk_live_"]:
    t = stripe(p)
    pos(f'let client = stripe::Client::new("{t}");\nlet customer = Customer::create(&client, params).await?;\n', ("stripe_key", t))

for tmpl in ['#[test]\nfn decodes_session() {{\n    let token = "{t}";\n    assert!(decode(token).is_ok());\n}}\n',
             'curl -H "Authorization: Bearer {t}" https://api.fake-service.io/v1/me\n',
             'let req = client.get(url).bearer_auth("{t}");\n',
             'session:\n  jwt: {t}\n']:
    t = jwt()
    pos(tmpl.format(t=t), ("jwt", t))

for label in ["RSA PRIVATE KEY", "EC PRIVATE KEY", "OPENSSH PRIVATE KEY", "PRIVATE KEY"]:
    k = pem(label, 6)
    pos(f'const KEY_PEM: &str = r"{k}";\n\nfn signer() -> Signer {{ Signer::from_pem(KEY_PEM.as_bytes()).unwrap() }}\n', ("private_key", k))
k = pem("PRIVATE KEY", 6)
pos("tls:\n  cert_file: /etc/tls/server.crt\n  key: |\n    " + k.replace("\n", "\n    ") + "\n", ("private_key", k.replace("\n", "\n    ")))

for tmpl in ['[database]\nhost = "db.internal"\nuser = "app"\npassword = "{p}"\n',
             'database:\n  username: app\n  password: {p}\n',
             'const DB_PASSWORD: &str = "{p}";\n',
             'let conn = PgConnectOptions::new()\n    .host("db")\n    .username("app")\n    .password("{p}");\n',
             'SMTP_PASSWORD={p}\nSMTP_HOST=smtp.mailgun.org\n',
             'let oauth = OAuthConfig {{\n    client_id: "app-123".into(),\n    client_secret: "{p}".into(),\n}};\n',
             '{{"api_key": "{p}", "region": "us-east"}}\n',
             'let config = Config {{ api_token: String::from("{p}"), retries: 3 }};\n']:
    pw = password()
    pos(tmpl.format(p=pw), ("assigned_secret", pw))

for tmpl in ['DATABASE_URL=postgres://app:{p}@db.prod.fake-corp.net:5432/app\n',
             'let url = "mysql://root:{p}@10.1.2.3:3306/shop";\n',
             'redis_url = "redis://default:{p}@cache.fake-corp.net:6379"\n']:
    pw = password().replace("@", "x").replace("#", "y")
    pos(tmpl.format(p=pw), ("url_password", pw))

for e in ["jane.doe@fake-corp.net", "m.rossi@mailbox.fake-isp.it", "dev.ops@fake-startup.io"]:
    pos(f'[package]\nname = "widget"\nversion = "0.3.1"\nauthors = ["Jane Doe <{e}>"]\nedition = "2021"\n', ("email", e))
pos('/// Maintained by Sam Roe (sam.roe@fake-university.edu). Report bugs there.\npub struct Parser;\n', ("email", "sam.roe@fake-university.edu"))
pos('fn notify() {\n    send_mail("oncall-lead@fake-corp.net", "disk full");\n}\n', ("email", "oncall-lead@fake-corp.net"))

for ip in ["52.14.201.77", "34.107.12.90", "81.2.69.160", "145.8.3.22"]:
    pos(f'let upstream: SocketAddr = "{ip}:8443".parse()?;\n', ("ip_address", ip))

# ---------------------------------------------------------------- look-alikes (not secrets)
for _ in range(6):
    neg(f'#[test]\nfn sha256_of_empty() {{\n    let d = Sha256::digest(b"");\n    assert_eq!(hex::encode(d), "{hex_(64)}");\n}}\n')
for _ in range(4):
    neg(f'    assert_eq!(format!("{{:x}}", md5::compute(b"{r(string.ascii_lowercase, 8)}")), "{hex_(32)}");\n')
for _ in range(3):
    neg(f'const EXPECTED_SHA1: &str = "{hex_(40)}";\n')
for _ in range(6):
    neg(f'pub const MAGIC: u64 = 0x{hex_(16).upper()};\nconst MASK: u32 = 0x{hex_(8)};\nlet table: [u8; 4] = [0x{hex_(2)}, 0x{hex_(2)}, 0x{hex_(2)}, 0x{hex_(2)}];\n')
for _ in range(6):
    u = f"{hex_(8)}-{hex_(4)}-4{hex_(3)}-a{hex_(3)}-{hex_(12)}"
    neg(f'/// ```\n/// let id = Uuid::parse_str("{u}").unwrap();\n/// assert_eq!(id.get_version_num(), 4);\n/// ```\npub fn parse(s: &str) -> Result<Uuid, Error> {{ Uuid::parse_str(s) }}\n')
for _ in range(6):
    data = bytes(rng.randrange(256) for _ in range(rng.choice([24, 33, 48])))
    neg(f'#[test]\nfn roundtrip() {{\n    let encoded = "{base64.b64encode(data).decode()}";\n    assert_eq!(STANDARD.encode(STANDARD.decode(encoded).unwrap()), encoded);\n}}\n')
neg('assert_eq!(STANDARD.encode(b"Hello, World!"), "SGVsbG8sIFdvcmxkIQ==");\n')
neg('const TEST_VECTOR: &str = "TWFueSBoYW5kcyBtYWtlIGxpZ2h0IHdvcmsu";\n')
neg('aws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n')
neg('// See the AWS docs: credentials look like AKIAIOSFODNN7EXAMPLE.\n')
for t in ['password = "changeme"', 'api_key = "${API_KEY}"', 'token = "<your-token-here>"', 'secret: ""', 'password: "{{ vault_db_password }}"',
          'client_secret = "REPLACE_ME"', 'API_TOKEN=xxxxxxxxxxxxxxxx', 'password = "********"', 'api_key = "your-api-key"', 'token: ${{ secrets.GITHUB_TOKEN }}']:
    neg(t + "\n")
neg('let token = std::env::var("GITHUB_TOKEN").expect("set GITHUB_TOKEN");\n')
neg('let hf_token = env::var("HF_TOKEN").ok();\nlet api = ApiBuilder::new().with_token(hf_token).build()?;\n')
neg('fn next(&mut self) -> Option<Token> {\n    let token = self.lexer.next_token()?;\n    match token {\n        Token::Ident(name) => Some(Token::Ident(name)),\n        other => Some(other),\n    }\n}\n')
neg('pub struct Parser<\'a> {\n    tokens: Vec<Token<\'a>>,\n    pos: usize,\n}\n')
neg('let secret_len = 32;\nlet token_type = "Bearer";\nlet max_tokens = 4096;\n')
neg('const TOKEN_KIND_IDENT: u8 = 3;\nlet password_field = form.field("password");\n')
neg('let password_hash = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG";\n')
neg('#[derive(Deserialize)]\nstruct Login { username: String, password: String }\n')
neg('let hashed = bcrypt::hash(password, DEFAULT_COST)?;\nassert!(bcrypt::verify(password, &hashed)?);\n')
for e in ['user@example.com', 'admin@example.org', 'noreply@test.invalid', 'alice@localhost', 'bob@corp.example', 'dev@my-app.test']:
    neg(f'let to = "{e}";\nmailer.send(to, "welcome")?;\n')
neg('[dependencies]\nwidget = { git = "git@github.com:fake-org/widget.git" }\n')
neg('let logo = "assets/icon@2x.png";\n')
neg('let addr = format!("{}@{}", user, host);\n')
for ip in ['127.0.0.1', '0.0.0.0', '192.168.1.1', '10.0.0.5', '172.16.4.2', '192.0.2.10', '198.51.100.7', '203.0.113.5', '8.8.8.8', '1.1.1.1', '255.255.255.255', '169.254.0.1', '224.0.0.251']:
    neg(f'let addr: SocketAddr = "{ip}:8080".parse().unwrap();\n')
neg('const OID_RSA: &str = "1.2.840.113549.1.1.1";\n')
neg('version = "1.2.3"\nrust-version = "1.74.0"\n')
neg('let v = Version::parse("v2.10.3.4")?;\n')
neg('stripe_key = "sk_test_FAKE4eC39HqLyjWDarjtT1zdp7dc"\n')
neg('let path = hf_hub_download("fake-org/model", "config.json")?;\n')
neg('let token = "ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"; // placeholder shown in docs\n')
neg('let slack = SlackClient::new("xoxb-your-token");\n')
neg('const PUBLIC_KEY: &str = "-----BEGIN PUBLIC KEY-----\n' + pem_body(4) + '\n-----END PUBLIC KEY-----";\n')
neg('const CA: &str = "-----BEGIN CERTIFICATE-----\n' + pem_body(6) + '\n-----END CERTIFICATE-----";\n')
neg('/// The file starts with `-----BEGIN PRIVATE KEY-----` and ends with `-----END PRIVATE KEY-----`.\npub fn load_key(pem: &str) -> Result<Key> { Key::from_pem(pem) }\n')
neg('let key = "-----BEGIN PRIVATE KEY-----\\n...\\n-----END PRIVATE KEY-----";\n')
for _ in range(3):
    neg(f'[[package]]\nname = "serde"\nversion = "1.0.{rng.randint(100, 220)}"\nsource = "registry+https://github.com/rust-lang/crates.io-index"\nchecksum = "{hex_(64)}"\n')
for _ in range(3):
    neg(f'widget = {{ git = "https://github.com/fake-org/widget", rev = "{hex_(40)}" }}\n')
for _ in range(4):
    neg(f'#[test]\nfn parses_long_input() {{\n    let input = "{r(A, 48)}";\n    let expected = "{r(A, 48)}";\n    assert_eq!(transform(input), expected);\n}}\n')
neg("fn longest<'a>(x: &'a str, y: &'a str) -> &'a str {\n    if x.len() > y.len() { x } else { y }\n}\n")
neg("let c = '\\'';\nlet s = r#\"a \"quoted\" string\"#;\nlet b = b'x';\n")
neg('impl fmt::Display for Error {\n    fn fmt(&self, f: &mut fmt::Formatter<\'_>) -> fmt::Result {\n        write!(f, "invalid token at {}", self.pos)\n    }\n}\n')
neg('let re = Regex::new(r"^[A-Za-z0-9+/]{40}$").unwrap();\n')
neg('/// Returns the API key header name.\npub const API_KEY_HEADER: &str = "X-Api-Key";\n')
neg('let auth = req.headers().get("authorization").and_then(|v| v.to_str().ok());\n')
neg('let jwt_secret = config.jwt_secret.clone();\nlet key = EncodingKey::from_secret(jwt_secret.as_bytes());\n')
neg('#[serde(rename = "accessToken")]\npub access_token: String,\n')
neg('let nonce = [0u8; 12];\nlet key = Key::<Aes256Gcm>::from_slice(&[0x42; 32]);\n')
neg('const ZERO_HASH: [u8; 32] = [0; 32];\nlet digest = "0000000000000000000000000000000000000000000000000000000000000000";\n')
neg('let token_url = "https://oauth2.googleapis.com/token";\nlet auth_url = "https://accounts.google.com/o/oauth2/v2/auth";\n')
neg('match std::env::var("DATABASE_URL") {\n    Ok(url) => connect(&url),\n    Err(_) => connect("postgres://localhost/dev"),\n}\n')
neg('let url = "postgres://user:password@localhost/db";\n')
neg('let url = "postgres://${DB_USER}:${DB_PASS}@${DB_HOST}/app";\n')
neg('let eyJ = "eyJhbGciOiJ";  // truncated header used in a parser test\n')
neg('assert!(is_jwt("eyJ.eyJ.sig") == false);\n')
neg('let word = "passwords are hashed with argon2 before storage";\n')
neg('// Set SECRET_KEY in your environment; never commit it.\nlet secret = std::env::var("SECRET_KEY")?;\n')
neg("macro_rules! token {\n    ($t:tt) => { Token::from(stringify!($t)) };\n}\n")
neg('let colors = ["#1f77b4", "#ff7f0e", "#2ca02c"];\n')
neg('let id = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";\n')
neg('const SEED: u64 = 0x9E3779B97F4A7C15;\nconst PRIME: u64 = 1099511628211;\n')
neg('let date = "2024-01-15T10:30:00Z";\nlet ver = "1.0.0-beta.2";\n')
neg('let html = "<a href=\\"mailto:{}\\">{}</a>";\n')
neg('let secret = Secret::new(rand::random::<[u8; 32]>());\n')
neg('password_min_length = 12\npassword_require_symbols = true\n')

# Found by running the scanner over data/corpus: paths and comparisons are not assignments.
neg('Keyword::from_word(word).map_or_else(|| Token::Ident(word.to_string()), Token::Keyword)\n')
neg('let kind = TokenKind::Punct;\nif token == "SECRET_MARKER_42x" { return; }\n')
# Found by scanning this repository's build outputs: four-part package versions are not IP addresses.
neg('{\n  "HarfBuzzSharp/8.3.1.1": { "type": "package" },\n  "dependencies": { "SkiaSharp.NativeAssets": "4.0.1.0" },\n  "path": "pkg/12.3.14.2"\n}\n')

# Stored gzipped (mtime 0, so the bytes are reproducible): the planted values are format-valid on purpose, and a plain
# text file full of credential-shaped strings would trip every secret scanner that reads the repository.
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus.jsonl.gz")
with open(out, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as f:
    for i, rec in enumerate(records):
        for e in rec["expected"]:
            assert e["value"] in rec["text"], (i, e)
        f.write((json.dumps({"id": i, **rec}) + "\n").encode("utf-8"))
npos = sum(len(r["expected"]) for r in records)
nneg = sum(1 for r in records if not r["expected"])
print(f"{len(records)} records: {npos} planted findings, {nneg} look-alike records")
