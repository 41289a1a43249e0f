#!/usr/bin/env python3
"""Generates tests/redaction/corpus.jsonl, the labeled redaction corpus.

Deterministic (fixed seed): re-running gives the same file.  Each line is
one case:

  {"id": "email-003", "kind": "json"|"text", "input": "...",
   "planted": [{"type": "email", "value": "..."}],   # must be removed
   "benign":  ["..."]}                               # must survive

Planted values are secrets and personal data put into realistic telemetry
payloads and log lines; benign values are look-alikes (UUIDs, digests,
timestamps, versions, relative paths, metric types, session ids, non-Luhn
digit strings, the word "password" as a value, ...).  A value counts as
removed when neither it nor its JSON-escaped form occurs in the output.

  python3 tests/redaction/gen_corpus.py > tests/redaction/corpus.jsonl
"""
import json
import random
import string

R = random.Random(20261125)
ALNUM = string.ascii_letters + string.digits
UPPER_NUM = string.ascii_uppercase + string.digits
B64 = string.ascii_letters + string.digits + "+/"
URLSAFE = string.ascii_letters + string.digits + "-_"
HEX = "0123456789abcdef"

FIRST = ["alice", "bob", "carol", "dmitri", "emma", "farah", "gustav", "hiro", "ines", "jamal",
         "kasia", "liam", "maria", "noor", "oskar", "priya", "quinn", "rafael", "sofia", "tomasz"]
LAST = ["kowalczyk", "nakamura", "okafor", "lindqvist", "fernandes", "haddad", "schmidt",
        "oconnor", "ivanova", "mbeki", "rossi", "tanaka", "dubois", "novak", "garcia"]
DOMAINS = ["example.com", "corp.example.org", "mail.example.net", "acme.io", "uni-example.edu",
           "example.co.uk"]
HOSTS = ["db.internal", "api.example.com", "cache-01.prod.example.net", "localhost",
         "registry.example.org"]
METRICS = ["orch.circuit_breaker.trip", "benchmark_event", "build.summary", "syntax_k_event",
           "socrates_surface", "memory_hybrid_fusion", "orch.hitl.interrupt",
           "ci.completion.finding", "context.lifecycle.evicted"]
MODELS = ["gpt-4o-mini", "claude-3-5-sonnet-20241022", "llama-3.1-8b-instruct",
          "mistral-large-2407"]
TOOLS = ["git", "cargo", "npm", "pytest", "rg", "docker", "kubectl", "terraform"]


def rs(alpha, n):
    return "".join(R.choice(alpha) for _ in range(n))


def luhn_complete(prefix, length):
    digits = [int(c) for c in prefix] + [R.randrange(10) for _ in range(length - len(prefix) - 1)]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return "".join(map(str, digits + [(10 - total % 10) % 10]))


def luhn_ok(s):
    ds = [int(c) for c in s if c.isdigit()]
    tot = 0
    for i, d in enumerate(reversed(ds)):
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        tot += d
    return tot % 10 == 0


def user():
    return R.choice(FIRST)[0] + R.choice(LAST) + R.choice(["", "", str(R.randrange(10, 99))])


def email():
    f, l = R.choice(FIRST), R.choice(LAST)
    local = R.choice([f"{f}.{l}", f"{f}{R.randrange(100)}", f"{f[0]}{l}", f"{f}+ci@", f"{l}_{f}"])
    local = local.rstrip("@")
    return f"{local}@{R.choice(DOMAINS)}"


def ipv4():
    """A public address (private, loopback and documentation ranges name no one)."""
    return ".".join(str(x) for x in [R.choice([8, 34, 52, 81, 91, 185, 151]), R.randrange(256),
                                     R.randrange(256), R.randrange(1, 255)])


def private_ipv4():
    return R.choice(["10.%d.%d.%d" % (R.randrange(256), R.randrange(256), R.randrange(1, 255)),
                     "192.168.%d.%d" % (R.randrange(256), R.randrange(1, 255)),
                     "172.%d.%d.%d" % (R.randint(16, 31), R.randrange(256), R.randrange(1, 255)),
                     "127.0.0.1"])


def mac():
    return ":".join("%02x" % R.randrange(256) for _ in range(6))


def iban(country, bban):
    """A valid IBAN (ISO 13616 mod-97 check digits) for the BBAN given."""
    num = "".join(str(int(c, 36)) for c in bban + country + "00")
    return country + "%02d" % (98 - int(num) % 97) + bban


def ssn():
    while True:
        a = R.randint(1, 899)
        if a != 666:
            return "%03d-%02d-%04d" % (a, R.randint(1, 99), R.randint(1, 9999))


def ipv6():
    groups = [rs(HEX, R.randint(1, 4)) for _ in range(8)]
    form = R.randrange(3)
    if form == 0:
        return ":".join(groups)
    if form == 1:
        return "2001:db8:" + ":".join(groups[:2]) + "::" + groups[7]
    return "fe80::" + ":".join(groups[:3])


def card():
    kind = R.choice(["visa", "visa", "mc", "amex", "disc", "mc2"])
    if kind == "visa":
        n = luhn_complete("4" + str(R.randrange(10)), 16)
    elif kind == "mc":
        n = luhn_complete("5" + str(R.randint(1, 5)), 16)
    elif kind == "mc2":
        n = luhn_complete("22" + str(R.randint(21, 99)), 16)
    elif kind == "amex":
        n = luhn_complete(R.choice(["34", "37"]), 15)
    else:
        n = luhn_complete("6011", 16)
    sep = R.choice(["", " ", "-"])
    if sep:
        if len(n) == 15:
            n = n[:4] + sep + n[4:10] + sep + n[10:]
        else:
            n = sep.join(n[i:i + 4] for i in range(0, len(n), 4))
    return n


def non_luhn_digits():
    while True:
        n = "4" + rs(string.digits, 15)
        if not luhn_ok(n):
            return n


def jwt():
    def seg(obj):
        import base64
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")
    return (seg({"alg": "HS256", "typ": "JWT"}) + "." +
            seg({"sub": rs(string.digits, 8), "iat": 1764080878, "scope": "repo"}) + "." +
            rs(URLSAFE, 43))


def pem():
    kind = R.choice(["RSA ", "EC ", "", "OPENSSH "])
    body = "\n".join(rs(B64, 64) for _ in range(R.randint(3, 6)))
    return f"-----BEGIN {kind}PRIVATE KEY-----\n{body}\n-----END {kind}PRIVATE KEY-----"


SECRETS = {
    "aws-access-key-id": lambda: R.choice(["AKIA", "ASIA"]) + rs(UPPER_NUM, 16),
    "github-token": lambda: R.choice(["ghp_", "gho_", "ghu_", "ghs_", "ghr_"]) + rs(ALNUM, 36),
    "github-pat": lambda: "github_pat_" + rs(ALNUM, 22) + "_" + rs(ALNUM, 59),
    "gitlab-token": lambda: "glpat-" + rs(URLSAFE, 20),
    "slack-token": lambda: R.choice(["xoxb-", "xoxp-", "xoxa-"]) + "-".join(
        [rs(string.digits, 12), rs(string.digits, 13), rs(ALNUM, 24)]),
    "stripe-live-key": lambda: R.choice(["sk_live_", "rk_live_"]) + rs(ALNUM, 24),
    "google-api-key": lambda: "AIza" + rs(URLSAFE, 35),
    "openai-api-key": lambda: R.choice(["sk-", "sk-proj-"]) + rs(ALNUM, 20) + "T3BlbkFJ" + rs(ALNUM, 20),
    "anthropic-api-key": lambda: "sk-ant-api03-" + rs(URLSAFE, 93) + "AA",
    "jwt": jwt,
}

# The families of issue 13, from the token formats their vendors document
# (random bodies): cloud, package registries, payments, messaging, LLM
# providers, other token shapes.  Each appears in JSON and in log lines.
UUID = lambda: "%08x-%04x-%04x-%04x-%012x" % (R.getrandbits(32), R.getrandbits(16),  # noqa: E731
                                              R.getrandbits(16), R.getrandbits(16),
                                              R.getrandbits(48))
LOWER_NUM = string.ascii_lowercase + string.digits
BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
FAMILIES = {
    # cloud
    "azure-ad-client-secret": lambda: rs(ALNUM, 3) + str(R.randrange(10)) + "Q~" + rs(ALNUM + "_~.-", 34),
    "cloud-provider-key": lambda: R.choice([
        lambda: "dop_v1_" + rs(HEX, 64), lambda: "doo_v1_" + rs(HEX, 64),
        lambda: "HRKU-AA" + rs(URLSAFE, 58), lambda: "hvs." + rs(URLSAFE, 95),
        lambda: "hvb." + rs(URLSAFE, 140), lambda: "dp.pt." + rs(ALNUM, 43),
        lambda: "dp.st." + rs(ALNUM, 43), lambda: "dapi" + rs(HEX, 32),
        lambda: "LTAI" + rs(ALNUM, 20)])(),
    "aws-bedrock-key": lambda: "ABSK" + rs(B64, 132),
    # package registries
    "registry-token": lambda: R.choice([
        lambda: "npm_" + rs(ALNUM, 36), lambda: "pypi-AgEIcHlwaS5vcmc" + rs(URLSAFE, 70),
        lambda: "rubygems_" + rs(HEX, 48), lambda: "oy2" + rs(LOWER_NUM, 43),
        lambda: "AKCp" + rs(ALNUM, 69), lambda: "cmVmd" + rs(ALNUM, 59)])(),
    # payments
    "stripe-key": lambda: R.choice(["sk_test_", "rk_test_", "rk_live_", "sk_live_"]) + rs(ALNUM, 24),
    "payment-provider-key": lambda: R.choice([
        lambda: "shpat_" + rs(HEX, 32), lambda: "shpss_" + rs(HEX, 32),
        lambda: "sq0atp-" + rs(URLSAFE, 22), lambda: "sq0csp-" + rs(URLSAFE, 43),
        lambda: "EAAA" + rs(URLSAFE, 60)])(),
    # messaging
    "twilio-key": lambda: "SK" + rs(HEX, 32),
    "sendgrid-key": lambda: "SG." + rs(URLSAFE, 22) + "." + rs(URLSAFE, 43),
    "mailgun-key": lambda: "key-" + rs(HEX, 32),
    "chat-webhook": lambda: R.choice([
        lambda: "https://discord.com/api/webhooks/" + rs(string.digits, 18) + "/" + rs(URLSAFE, 68),
        lambda: "https://acme.webhook.office.com/webhookb2/" + UUID() + "@" + UUID() +
        "/IncomingWebhook/" + rs(HEX, 32) + "/" + UUID()])(),
    "telegram-bot-token": lambda: rs(string.digits, 10) + ":AA" + rs(URLSAFE, 33),
    "slack-app-token": lambda: "xapp-1-A" + rs(string.ascii_uppercase + string.digits, 10) + "-" +
    rs(string.digits, 13) + "-" + rs(HEX, 64),
    # LLM providers (OpenRouter is Vox's main provider)
    "llm-provider-key": lambda: R.choice([
        lambda: "hf_" + rs(string.ascii_letters, 34), lambda: "gsk_" + rs(ALNUM, 52),
        lambda: "xai-" + rs(ALNUM, 80), lambda: "r8_" + rs(ALNUM, 37),
        lambda: "pplx-" + rs(ALNUM, 48)])(),
    "openrouter-api-key": lambda: "sk-or-v1-" + rs(HEX, 64),
    # other token shapes
    "gitlab-token": lambda: R.choice(["glrt-", "gldt-", "glcbt-", "glft-", "glsoat-", "glptt-"]) +
    rs(URLSAFE, 24),
    "age-secret-key": lambda: "AGE-SECRET-KEY-1" + rs(BECH32.upper(), 58),
    "onepassword-secret-key": lambda: "A3-" + "-".join(rs(UPPER_NUM, n) for n in (6, 6, 5, 5, 5, 5)),
    # the token shapes of Vox's PiiFilter
    "vox-token-shape": lambda: R.choice(["pk-", "ak-", "gsk-"]) + rs(ALNUM, 22) + str(R.randrange(10)),
}
KEYWORD_FAMILIES = [  # secrets that need their keyword, as in the vendors' docs
    ("cloud-keyword-secret", "HEROKU_API_KEY", UUID),
    ("cloud-keyword-secret", "CLOUDFLARE_API_TOKEN", lambda: rs(URLSAFE, 40)),
    ("cohere-api-key", "COHERE_API_KEY", lambda: rs(ALNUM, 40)),
    ("cloud-keyword-secret", "VAULT_TOKEN", lambda: "s." + rs(ALNUM, 24)),
]

cases = []


def add(kind, typ, inp, planted, benign=()):
    cases.append({"id": f"{typ}-{sum(1 for c in cases if c['id'].startswith(typ + '-')):03d}",
                  "kind": kind, "input": inp,
                  "planted": [{"type": t, "value": v} for t, v in planted],
                  "benign": list(benign)})


def benign_pool():
    """Look-alikes that must survive, each with a context that keeps them honest."""
    u = "%08x-%04x-4%03x-a%03x-%012x" % (R.getrandbits(32), R.getrandbits(16), R.getrandbits(12),
                                          R.getrandbits(12), R.getrandbits(48))
    return [
        ("request_id", u),
        ("commit", rs(HEX, 40)),
        ("sha256", "sha256:" + rs(HEX, 64)),
        ("created_at", "2026-%02d-%02dT%02d:%02d:%02d.%03dZ" % (R.randint(1, 12), R.randint(1, 28),
                                                              R.randrange(24), R.randrange(60),
                                                              R.randrange(60), R.randrange(1000))),
        ("ts", "2026-%02d-%02d %02d:%02d:%02d" % (R.randint(1, 12), R.randint(1, 28), R.randrange(24),
                                                  R.randrange(60), R.randrange(60))),
        ("version", R.choice(["1.2.3", "v2.14.0", "3.40.1", "0.8.1", "10.0.19041.1", "2.0.0-rc.1",
                              "1.2.3.4"])),
        ("file", R.choice(["src/main.rs", "crates/telem/src/lib.rs", "docs/home/index.md",
                           "tests/fixtures/users/list.json", "ext/rules.c", "./home/readme.md"])),
        ("metric_type", R.choice(METRICS)),
        ("session_id", R.choice(["bench:repo-", "mcp:tool-", "syntaxk:run-", "socrates:retrieval-"]) +
         str(R.randrange(1, 999))),
        ("order_ref", non_luhn_digits()),
        ("latency_ms_total", str(R.randrange(1764080000000, 1764089999999))),
        ("field", "password"),
        ("model", R.choice(MODELS)),
        ("remote", "git@github.com:acme/" + R.choice(["api", "web", "infra"]) + ".git"),
        ("user_agent", "Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0.0.0 Safari/537.36"),
        ("lib", "/usr/lib/x86_64-linux-gnu/libpcre2-8.so.0"),
        ("shared_dir", "/Users/Shared/build-cache"),
        ("clock", "%02d:%02d:%02d" % (R.randrange(24), R.randrange(60), R.randrange(60))),
    ]


def json_payload(extra, nb=4):
    """A realistic metadata payload with some benign fields; returns (text, benign values)."""
    base = {"session_id": R.choice(["bench:repo-42", "mcp:tool-7", "syntaxk:run-3"]),
            "metric_type": R.choice(METRICS), "tool": R.choice(TOOLS),
            "duration_ms": R.randrange(1, 90000), "ok": R.choice([True, False]),
            "model": R.choice(MODELS)}
    pool = benign_pool()
    R.shuffle(pool)
    benign = []
    for k, v in pool[:nb]:
        if k == "version" and v == "1.2.3.4":
            base["version"] = v  # the IPv4 look-alike is only safe under a version key
        elif k in ("file",):
            base["rel_" + k] = v
        else:
            base[k] = v
        benign.append(v)
    items = list(base.items()) + list(extra.items())
    R.shuffle(items)
    return json.dumps(dict(items)), benign


def text_benign():
    pool = [v for k, v in benign_pool() if k not in ("version",) and not (k == "field")]
    R.shuffle(pool)
    return pool[:3]


# ---- planted secrets and personal data ------------------------------------

for typ, gen in SECRETS.items():
    for i in range(14):
        v = gen()
        mode = i % 4
        if mode == 0:  # a JSON string value whose key says nothing
            text, ben = json_payload({"detail": f"config loaded with {v} from env"})
            add("json", typ, text, [(typ, v)], ben)
        elif mode == 1:  # nested in an array of log lines
            text, ben = json_payload({"log": ["starting", f"using credential {v}", "done"]})
            add("json", typ, text, [(typ, v)], ben)
        elif mode == 2:  # a plain log line
            b = text_benign()
            line = (f"{b[0]} INFO {R.choice(TOOLS)}: env TOKEN_SOURCE={R.choice(['vault', 'file'])} "
                    f"value {v} at {b[1]} ({b[2]})")
            add("text", typ, line, [(typ, v)], b)
        else:  # under an innocuous key, as the whole value
            text, ben = json_payload({"value": v, "provider": R.choice(["github", "aws", "slack"])})
            add("json", typ, text, [(typ, v)], ben)

for i in range(14):
    v = R.choice(["AKIA", "ASIA"]) + rs(UPPER_NUM, 16)
    s = rs(B64, 40)
    form = i % 3
    if form == 0:
        line = f"aws_access_key_id={v}\naws_secret_access_key={s}\nregion=eu-west-1"
    elif form == 1:
        line = f"export AWS_ACCESS_KEY_ID={v} AWS_SECRET_ACCESS_KEY={s}"
    else:
        line = f"AWS secret key: {s} for key id {v}"
    add("text", "aws-secret-access-key", line, [("aws-access-key-id", v), ("aws-secret-access-key", s)],
        ["eu-west-1"] if form == 0 else [])

for i in range(16):
    v = pem()
    if i % 2:
        text, ben = json_payload({"attachment": v})
        add("json", "pem-private-key", text, [("pem-private-key", v)], ben)
    else:
        add("text", "pem-private-key", f"writing key file\n{v}\nchmod 600 done",
            [("pem-private-key", v)], ["chmod 600 done"])

for i in range(20):
    e = email()
    b = text_benign()
    form = i % 4
    if form == 0:
        text, ben = json_payload({"reviewer": e})
        add("json", "email", text, [("email", e)], ben)
    elif form == 1:
        text, ben = json_payload({"message": f"notified {e} about build failure"})
        add("json", "email", text, [("email", e)], ben)
    elif form == 2:
        add("text", "email", f"{b[0]} WARN mailer: bounce for <{e}> session {b[1]}", [("email", e)], b[:2])
    else:
        add("json", "email", json.dumps({"recipients": [e, email()], "count": 2,
                                         "metric_type": R.choice(METRICS)}),
            [("email", e)], [])

for i in range(20):
    ip = ipv4() if i % 2 == 0 else ipv6()
    typ = "ipv4" if i % 2 == 0 else "ipv6"
    b = text_benign()
    form = i % 3
    if form == 0:
        text, ben = json_payload({"client_ip": ip})
        add("json", typ, text, [(typ, ip)], ben)
    elif form == 1:
        add("text", typ, f"{b[0]} ERROR net: connect to {ip}:5432 refused ({b[1]})", [(typ, ip)], b[:2])
    else:
        text, ben = json_payload({"error": f"dial tcp [{ip}]:443: i/o timeout"})
        add("json", typ, text, [(typ, ip)], ben)

for i in range(24):
    c = card()
    form = i % 3
    if form == 0:
        text, ben = json_payload({"note": f"customer paid with {c} yesterday"})
        add("json", "payment-card", text, [("payment-card", c)], ben)
    elif form == 1:
        nl = non_luhn_digits()
        add("text", "payment-card", f"charge ok card={c} order {nl} amount=12.50",
            [("payment-card", c)], [nl, "amount=12.50"])
    else:
        cc = c.replace(" ", "").replace("-", "")
        add("json", "payment-card", json.dumps({"pan": int(cc), "metric_type": "billing.charge",
                                                "amount_cents": R.randrange(100, 99999)}),
            [("payment-card", cc)], ["billing.charge"])

for i in range(24):
    u = user()
    form = i % 4
    rel = R.choice(["src/main.rs", "repo/crates/x/lib.rs", ".config/tool/settings.json"])
    if form == 0:
        p = f"/home/{u}/{rel}"
    elif form == 1:
        p = f"/Users/{u}/{rel}"
    elif form == 2:
        p = "C:\\Users\\" + u + "\\" + rel.replace("/", "\\")
    else:
        p = f"/home/{u}"
    b = text_benign()
    if i % 2:
        text, ben = json_payload({"trace": f"panic at {p}:42:7"})
        tail = [] if form == 3 else [rel if form != 2 else rel.split('/')[-1]]
        add("json", "home-user", text, [("home-user", u)], ben + tail)
    else:
        add("text", "home-user", f"{b[0]} compiling {p} ({b[1]})", [("home-user", u)], b[:2])

for i in range(20):
    u, pw = R.choice(FIRST), rs(ALNUM, R.randint(10, 20))
    host = R.choice(HOSTS)
    scheme = R.choice(["postgres", "mysql", "https", "redis", "amqp", "mongodb+srv"])
    url = f"{scheme}://{u}:{pw}@{host}:{R.randrange(1000, 9999)}/app"
    if i % 2:
        text, ben = json_payload({"dsn_hint": f"connecting to {url}"})
        add("json", "url-credentials", text, [("url-credentials", pw)], ben)
    else:
        add("text", "url-credentials", f"retrying {url} after timeout", [("url-credentials", pw)],
            ["after timeout"])

for i in range(24):
    pw = rs(ALNUM + "!#%", R.randint(8, 18))
    name = R.choice(["password", "db_password", "PASSWORD", "api_key", "apiKey", "client_secret",
                     "GITHUB_TOKEN", "access_token", "secret", "passwd", "auth_token"])
    sep = R.choice(["=", ": ", " = ", ":"])
    b = text_benign()
    if i % 2:
        add("text", "kv-secret", f"{b[0]} DEBUG config: {name}{sep}{pw} loaded ({b[1]})",
            [("kv-secret", pw)], b[:2])
    else:
        text, ben = json_payload({"stderr": f"invalid credentials: {name}{sep}{pw}"})
        add("json", "kv-secret", text, [("kv-secret", pw)], ben)

for i in range(16):
    tok = rs(URLSAFE + ".", R.randint(24, 60)) + str(R.randrange(10))
    if i % 2:
        add("text", "bearer-token", f"> GET /v1/items HTTP/1.1\n> Authorization: Bearer {tok}\n> Accept: */*",
            [("bearer-token", tok)], ["GET /v1/items HTTP/1.1"])
    else:
        text, ben = json_payload({"request": f"curl -H 'Authorization: Bearer {tok}' https://api.example.com/v1"})
        add("json", "bearer-token", text, [("bearer-token", tok)], ben)

# secret keys in JSON: the key names the secret, the value may look like anything
for i in range(30):
    key = R.choice(["password", "Password", "db-password", "api_key", "apiKey", "X-Api-Key",
                    "client_secret", "access_token", "refreshToken", "session_token", "cookie",
                    "Authorization", "private_key", "aws_secret_access_key", "passphrase",
                    "SLACK_WEBHOOK_URL", "connectionString", "bearer"])
    val = rs(ALNUM, R.randint(8, 32))
    if i % 3 == 0:
        inner = {"headers": {key: val, "Accept": "application/json"}}
    elif i % 3 == 1:
        inner = {"env": [{"name": "HOME_REGION", "value": "eu"}, {key: val}]}
    else:
        inner = {key: val}
    text, ben = json_payload(inner)
    add("json", "secret-key", text, [("secret-key", val)], ben + ["application/json"] * (i % 3 == 0))

# several secrets in one payload
for i in range(20):
    e, ip, tok = email(), ipv4(), SECRETS["github-token"]()
    u = user()
    text, ben = json_payload({"ctx": {"author": e, "host_ip": ip, "cwd": f"/home/{u}/work"},
                              "stderr": f"remote: Invalid username or token {tok}"}, nb=6)
    add("json", "mixed", text, [("email", e), ("ipv4", ip), ("github-token", tok), ("home-user", u)],
        ben)

for typ, gen in FAMILIES.items():
    for i in range(4):
        v = gen()
        b = text_benign()
        if i % 2:
            text, ben = json_payload({"detail": f"provider rejected {v} (401)"})
            add("json", typ, text, [(typ, v)], ben)
        else:
            add("text", typ, f"{b[0]} WARN client: using {v} for upload ({b[1]})", [(typ, v)], b[:2])
for typ, name, gen in KEYWORD_FAMILIES:
    for i in range(3):
        v = gen()
        add("text", typ, f"export {name}={v}", [(typ, v)], ["export " + name + "="])

# Personal data beyond e-mail: phones (with the context that tells them
# from ids), IBANs (checksum), US SSNs (valid ranges), MAC addresses, cards
# of every major network.
PHONES = [
    lambda: "+44 20 7946 %04d" % R.randrange(10000),
    lambda: "+1 415 555 %04d" % R.randrange(10000),
    lambda: "+49 151 %08d" % R.randrange(10 ** 8),
    lambda: "(415) 555-%04d" % R.randrange(10000),
    lambda: "06 %02d %02d %02d %02d" % tuple(R.randrange(100) for _ in range(4)),
]
for i in range(15):
    v = PHONES[i % len(PHONES)]()
    b = text_benign()
    if i % 3 == 0:
        text, ben = json_payload({"note": f"customer phone: {v}, call back"})
        add("json", "phone", text, [("phone", v)], ben)
    elif i % 3 == 1:
        add("text", "phone", f"{b[0]} INFO sms: sent code to {v} ({b[1]})", [("phone", v)], b[:2])
    else:
        text, ben = json_payload({"contact": {"tel": v.replace(" ", "")}})
        add("json", "phone", text, [("phone", v.replace(" ", ""))], ben)
for i in range(12):
    v = R.choice([lambda: iban("DE", rs(string.digits, 18)),
                  lambda: iban("GB", rs(string.ascii_uppercase, 4) + rs(string.digits, 14)),
                  lambda: iban("FR", rs(string.digits, 23)),
                  lambda: iban("NL", rs(string.ascii_uppercase, 4) + rs(string.digits, 10))])()
    if i % 3 == 2:
        v = " ".join(v[k:k + 4] for k in range(0, len(v), 4))
    text, ben = json_payload({"note": f"refund to {v} approved"})
    add("json", "iban", text, [("iban", v)], ben)
for i in range(9):
    v = ssn()
    b = text_benign()
    if i % 3 == 0:
        add("text", "us-ssn", f"{b[0]} applicant ssn {v.replace('-', '')} verified", [("us-ssn", v.replace("-", ""))], b[:1])
    else:
        text, ben = json_payload({"note": f"applicant {v} verified"})
        add("json", "us-ssn", text, [("us-ssn", v)], ben)
for i in range(9):
    v = mac()
    if i % 2:
        text, ben = json_payload({"iface": f"eth{i} {v} up"})
        add("json", "mac-address", text, [("mac-address", v)], ben)
    else:
        add("text", "mac-address", f"dhcp: lease for {v.upper()} renewed", [("mac-address", v.upper())],
            ["dhcp: lease for"])
NETWORKS = [("jcb", "35" + str(R.randint(28, 89)), 16), ("diners", "36", 14), ("unionpay", "62", 16),
            ("maestro", "6759", 16), ("mir", "2200", 16), ("rupay", "60", 16), ("discover", "65", 16),
            ("mc", "51", 16), ("amex", "37", 15)]
for name, prefix, length in NETWORKS:
    v = luhn_complete(prefix, length)
    text, ben = json_payload({"note": f"{name} card {v} declined"})
    add("json", "payment-card", text, [("payment-card", v)], ben)

# Look-alikes of personal data that must survive: invalid SSN ranges,
# IBANs with a wrong checksum, ids and timestamps near phone words,
# versions, hashes, UUIDs, private addresses.
for i in range(12):
    bad_ssn = R.choice(["000", "666", "9%02d" % R.randrange(100)]) + "-%02d-%04d" % (
        R.randint(1, 99), R.randint(1, 9999))
    good = iban("DE", rs(string.digits, 18))
    bad_iban = good[:2] + "%02d" % ((int(good[2:4]) + 1) % 100) + good[4:]
    ip = private_ipv4()
    vals = [bad_ssn, bad_iban, ip, UUID(), "v%d.%d.%d" % (R.randrange(9), R.randrange(30), R.randrange(99)),
            "2026-%02d-%02dT10:%02d:00+01:00" % (R.randint(1, 12), R.randint(1, 28), R.randrange(60)),
            "call_id=" + str(R.randrange(10 ** 12, 10 ** 13)), rs(HEX, 64),
            "build 2026%02d%02d.%d" % (R.randint(1, 12), R.randint(1, 28), R.randrange(9))]
    if i % 2:
        text, _ = json_payload({"a": vals[0], "b": vals[1], "c": vals[2], "d": vals[3],
                                "e": vals[4], "f": vals[5], "g": vals[6], "h": vals[7], "i": vals[8]})
        add("json", "benign-pii", text, [], vals)
    else:
        add("text", "benign-pii", " | ".join(vals), [], vals)

# ---- benign-only payloads ---------------------------------------------------

for i in range(120):
    form = i % 4
    if form == 0:
        text, ben = json_payload({}, nb=8)
        add("json", "benign", text, [], ben)
    elif form == 1:
        b = text_benign()
        add("text", "benign", f"{b[0]} INFO orch: trip orch.circuit_breaker.trip session bench:repo-42 "
            f"commit {rs(HEX, 40)} took {R.randrange(1, 900)}ms ({b[1]}; {b[2]})",
            [], b + ["orch.circuit_breaker.trip", "bench:repo-42"])
    elif form == 2:
        words = R.choice([
            "the password field is required",
            "reset password link sent",
            "uses bearer authentication for the upstream",
            "token budget exceeded: prompt_tokens=1500 completion_tokens=320",
            "std::vector<int>::iterator out of range",
            "model sk-learn-classifier v0.24 loaded",
            "see docs at https://example.com/docs/auth#password-policy",
            "basic configuration applied to 12 targets",
            "key rotation scheduled for 2026-12-01",
            "secret scanning found 0 issues in 14 files",
        ])
        add("text", "benign", words, [], [words])
    else:
        obj = {"auth_method": "password", "token_count": R.randrange(10, 9000),
               "max_tokens": 4096, "password_policy": "min12", "secrets_found": 0,
               "metric_type": R.choice(METRICS), "version": R.choice(["1.2.3.4", "10.0.0.1"]),
               "labels": ["password", "login", "2fa"], "uuid": benign_pool()[0][1]}
        add("json", "benign", json.dumps(obj), [],
            ["password", "min12", obj["metric_type"], obj["version"], obj["uuid"], "2fa"])

# ---- hand-written hard cases: other shapes of the same secrets, and
# look-alikes from real logs ---------------------------------------------------

HARD_PLANTED = [
    ("text", "kv-secret", "> X-Api-Key: {v}\n> Accept: */*", lambda: rs(ALNUM, 32)),
    ("text", "authorization-header", "Authorization: Basic {v}", lambda: rs(B64, 24) + "=="),
    ("text", "kv-secret", "GET https://api.example.com/v1/items?limit=10&api_key={v}&page=2",
     lambda: rs(ALNUM, 24), ["https://api.example.com/v1/items?limit=10&api_key=", "&page=2"]),
    ("text", "kv-secret", '{{"user": "svc", "password": "{v}", "retries": 3', lambda: rs(ALNUM, 14)),
    ("text", "slack-token", "token rotated: xoxe.{v}", lambda: "xoxp-1-" + rs(ALNUM, 40)),
    ("json", "email", '{{"Reviewer": "{v}", "count": 1}}', lambda: email().upper()),
    ("json", "email", '{{"{v}": {{"commits": 12}}}}', email),
    ("text", "ipv4", "listening on {v}:8080 (pid 4242)", ipv4, [":8080 (pid 4242)"]),
    ("text", "ipv6", "peer ::ffff:{v} closed the stream", ipv4),
    ("json", "ipv6", '{{"addr": "[{v}]:443"}}', lambda: "2001:db8:85a3::8a2e:370:" + rs(HEX, 4)),
    ("text", "github-token", "git clone https://x-access-token:{v}@github.com/acme/api.git",
     lambda: "ghs_" + rs(ALNUM, 36), ["@github.com/acme/api.git"]),
    ("json", "secret-key", '{{"headers": {{"Cookie": "{v}"}}}}', lambda: "sid=" + rs(ALNUM, 24)),
    ("json", "secret-key", '{{"config": {{"smtp": {{"auth_password": "{v}"}}}}}}', lambda: rs(ALNUM, 12)),
    ("text", "home-user", "Traceback: File \"/Users/{v}/Library/Python/3.11/site.py\", line 3", user),
    ("json", "home-user", '{{"cwd": "C:\\\\Users\\\\{v}\\\\source\\\\repos"}}', user),
    ("text", "payment-card", "amex 3782 822463 10005 declined", lambda: "3782 822463 10005"),
    ("text", "mac-address", "iface eth0 mac {v} up", mac),
    ("text", "kv-password", "password = {v}\nport = 5432", lambda: "correct horse " + rs(ALNUM, 8),
     ["port = 5432"]),
    ("text", "kv-password", 'DB_PASSWORD="{v}" ./run.sh', lambda: "two words " + rs(ALNUM, 6),
     ["./run.sh"]),
]
for kind, typ, tmpl, gen, *keep in HARD_PLANTED:
    for _ in range(3):
        v = gen()
        add(kind, "hard-" + typ, tmpl.format(v=v), [(typ, v)], keep[0] if keep else [])

HARD_BENIGN = [
    "std::chrono::steady_clock::now() took 12ms",
    "iface eth0 mac 00:00:00:00:00:00 up",
    "publicToken = pk_live_" + "a1B2c3D4e5F6g7H8i9J0k1L2",
    "AKIAIOSFODNN7EXAMPLE is the documented example key",
    "export API_KEY=${API_KEY}",
    "token: {{ .Values.apiToken }}",
    "ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    "io.jsonwebtoken:jjwt-jackson:0.11.2",
    "listen 0.0.0.0:8080, upstream 10.0.3.7:9000, db 192.168.1.20",
    "stage finished after 01:02:03.500",
    "runtime 4.0.30319.42000 detected",
    "sha1:da39a3ee5e6b4b0d3255bfef95601890afd80709",
    "trace_id=4bf92f3577b34da6a3ce929d0e0e4736 span_id=00f067aa0ba902b7",
    "ticket JIRA-1234 moved to done",
    "price 12.50 USD, qty 3",
    "/usr/local/bin/python3.11 -m pytest",
    "~/.config/tool/settings.json",
    "see RFC 1918 for 10/8",
    "ETag: W/\"5e15153d-120f\"",
    "Content-Type: application/json; charset=utf-8",
    "ulimit -n 1048576",
    "epoch 1764080878 (ms 1764080878123)",
    "tokens_used=1500 max_tokens=4096",
    "password reset requested (no password stored)",
    "api_key rotation policy: 90 days",
    "wrote 4096 bytes to build/cache/index.bin",
    "model claude-3-5-sonnet-20241022 via route tier-2",
    "sk-learn pipeline v1.4.2",
    "see https://docs.example.com/users/guide",
    "Set HOME=/home for containers",
    "image ghcr.io/acme/api:1.2.3",
    "checksum 5d41402abc4b2a76b9719d911017c592",
]
for t in HARD_BENIGN:
    add("text", "hard-benign", t, [], [t])
    add("json", "hard-benign", json.dumps({"msg": t, "metric_type": "telemetry.error"}), [],
        [t if '"' not in t else t.split('"')[0]])

for c in cases:
    print(json.dumps(c, sort_keys=True))
