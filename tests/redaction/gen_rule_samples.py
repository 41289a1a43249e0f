#!/usr/bin/env python3
"""Writes tests/redaction/rule-samples.jsonl: for every value pattern of the
shipped rules, samples that must fire that rule and look-alikes that must
not (tests/sh/rule_samples.sh checks both, and that no value pattern is
without samples).  Token bodies are random (fixed seed) in each vendor's
documented format; nothing is copied from another scanner's rule files.

  python3 tests/redaction/gen_rule_samples.py > tests/redaction/rule-samples.jsonl
"""
import base64
import json
import random
import string

R = random.Random(20261204)
AN = string.ascii_letters + string.digits
LOW = string.ascii_lowercase + string.digits
HEX = "0123456789abcdef"
URL = AN + "-_"
B64 = AN + "+/"


def rs(a, n):
    return "".join(R.choice(a) for _ in range(n))


def uuid():
    return "%s-%s-%s-%s-%s" % (rs(HEX, 8), rs(HEX, 4), rs(HEX, 4), rs(HEX, 4), rs(HEX, 12))


def luhn(prefix, length):
    d = [int(c) for c in prefix] + [R.randrange(10) for _ in range(length - len(prefix) - 1)]
    t = sum((x * 2 - 9 if x * 2 > 9 else x * 2) if i % 2 == 0 else x for i, x in enumerate(reversed(d)))
    return "".join(map(str, d + [(10 - t % 10) % 10]))


def iban(cc, bban):
    n = int("".join(str(int(c, 36)) for c in bban + cc + "00"))
    return cc + "%02d" % (98 - n % 97) + bban


def jwt():
    h = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').decode().rstrip("=")
    p = base64.urlsafe_b64encode(json.dumps({"sub": rs(string.digits, 9)}).encode()).decode().rstrip("=")
    return h + "." + p + "." + rs(URL, 43)


S = {}  # rule -> (positives [(text, secret)], negatives [text])
S["pem-private-key"] = ([("key:\n-----BEGIN RSA PRIVATE KEY-----\n%s\n-----END RSA PRIVATE KEY-----" % rs(B64, 64), None)],
                        ["-----BEGIN PRIVATE KEY-----\nanything\n-----END PRIVATE KEY-----", "-----BEGIN PUBLIC KEY-----"])
j = jwt()
S["jwt"] = ([("session %s ok" % j, j), ("wrapped %s" % base64.b64encode(j.encode()).decode(), None)],
            ["eyJhbGciOi is a prefix only", "ZXlK"])
S["authorization-header"] = ([("Authorization: Basic %s" % rs(B64, 24), None)], ["authorization required", "Authorization: Bearer <token>"])
t = rs(URL, 40) + "9"
S["bearer-token"] = ([("curl -H 'bearer %s'" % t, t)], ["uses bearer authentication", "bearer ${TOKEN}"])
k = "AKIA" + rs(string.ascii_uppercase + "234567", 16)
S["aws-access-key-id"] = ([("id %s" % k, k)], ["AKIAIOSFODNN7EXAMPLE", "XAKIA" + rs(string.ascii_uppercase, 16)])
s = rs(B64, 40)
S["aws-secret-access-key"] = ([("aws_secret_access_key = %s" % s, s)], ["aws region eu-west-1"])
b = "ABSK" + rs(B64, 132)
S["aws-bedrock-key"] = ([("key %s" % b, b)], ["ABSK short"])
g = "ghp_" + rs(AN, 36)
S["github-token"] = ([(g, g), ("github_pat_%s_%s" % (rs(AN, 22), rs(AN, 59)), None)], ["ghp_" + "x" * 36, "ghp_short"])
S["gitlab-token"] = ([(p + rs(URL, 24), None) for p in ("glpat-", "glrt-", "gldt-", "glcbt-", "glft-", "glsoat-", "glptt-", "glagent-")],
                     ["glpat-XXXXXXXXXXXXXXXXXXXX", "glpat-short"])
S["slack-token"] = ([("xoxb-%s-%s-%s" % (rs(string.digits, 12), rs(string.digits, 13), rs(AN, 24)), None),
                     ("xoxe.xoxp-1-%s" % rs(AN, 60), None)],
                    ["xoxb-12345-abcd234", "2018-250-xoxo-indieweb-1.jpg"])
S["slack-app-token"] = ([("xapp-1-A%s-%s-%s" % (rs(string.ascii_uppercase + string.digits, 10), rs(string.digits, 13), rs(HEX, 64)), None)], ["xapp-1-short"])
S["slack-webhook"] = ([("https://hooks.slack.com/services/T%s/B%s/%s" % (rs(AN, 8), rs(AN, 8), rs(AN, 24)), None)], ["https://hooks.slack.com/"])
S["chat-webhook"] = ([("https://discord.com/api/webhooks/%s/%s" % (rs(string.digits, 18), rs(URL, 68)), None),
                      ("https://acme.webhook.office.com/webhookb2/%s@%s/IncomingWebhook/%s/%s" % (uuid(), uuid(), rs(HEX, 32), uuid()), None)],
                     ["https://discord.com/channels/1/2"])
d = "%s.%s.%s" % ("M" + rs(AN, 23), rs(URL, 6), rs(URL, 27))
S["discord-bot-token"] = ([("DISCORD_BOT_TOKEN=%s" % d, d)], ["discord server invite"])
tg = rs(string.digits, 10) + ":AA" + rs(URL, 33)
S["telegram-bot-token"] = ([("bot %s" % tg, tg)], ["12:30:45 start", "1234:A" + rs(AN, 34)])
tw = "SK" + rs(HEX, 32)
S["twilio-key"] = ([("twilio %s" % tw, tw)], ["SKU-1234", "SK" + "0" * 32])
sg = "SG." + rs(URL, 22) + "." + rs(URL, 43)
S["sendgrid-key"] = ([(sg, sg)], ["SG.short.x"])
mg = "key-" + rs(HEX, 32)
S["mailgun-key"] = ([(mg, mg)], ["primary-key-rotation"])
S["messaging-key"] = ([("xkeysib-%s-%s" % (rs(HEX, 64), rs(AN, 16)), None), ("PMAK-%s-%s" % (rs(HEX, 24), rs(HEX, 34)), None),
                       ("EZAK" + rs(AN, 54), None), ("shippo_live_" + rs(HEX, 40), None)], ["PMAK-short"])
st = "sk_test_" + rs(AN, 24)
S["stripe-key"] = ([(st, st), ("rk_live_" + rs(AN, 24), None)], ["pk_live_" + rs(AN, 24), "task_test_" + rs(AN, 24)])
S["payment-provider-key"] = ([("shpat_" + rs(HEX, 32), None), ("sq0csp-" + rs(URL, 43), None), ("FLWSECK_TEST-%s-X" % rs(HEX[:8] + "h", 32), None),
                              ("access-sandbox-" + uuid(), None), ("duffel_test_" + rs(URL, 43), None)], ["shpat_short"])
gk = "AIza" + rs(URL, 35)
S["google-api-key"] = ([(gk, gk)], ["AIza" + "a" * 35, "AIzaSy" + "abcdefghijklmnopqrstuvwxyz1234567"])
S["anthropic-api-key"] = ([("sk-ant-api03-%sAA" % rs(URL, 93), None), ("sk-ant-" + rs(AN, 30), None)], ["sk-ant-short"])
orr = "sk-or-v1-" + rs(HEX, 64)
S["openrouter-api-key"] = ([("OPENROUTER_KEY " + orr, orr)], ["sk-or-"])
S["openai-api-key"] = ([("sk-proj-%sT3BlbkFJ%s" % (rs(AN, 20), rs(AN, 20)), None)], ["sk-learn-classifier", "task-runner-2"])
S["llm-provider-key"] = ([("hf_" + rs(string.ascii_letters, 34), None), ("gsk_" + rs(AN, 52), None), ("xai-" + rs(AN, 80), None),
                          ("r8_" + rs(AN, 37), None), ("pplx-" + rs(AN, 48), None)], ["hf_hub", "video_box.ico-7a388b69018576d24b59331fd60aab0c.png"])
co = rs(AN, 40)
S["cohere-api-key"] = ([("COHERE_API_KEY=" + co, co)], ["cohere: 3 results"])
S["vox-token-shape"] = ([("pk-" + rs(AN, 22) + "7", None), ("gsk-" + rs(AN, 22) + "3", None)], ["sk-learn-pipeline-v1", "ak-" + "a" * 25])
S["cloud-provider-key"] = ([("dop_v1_" + rs(HEX, 64), None), ("HRKU-AA" + rs(URL, 58), None), ("hvs." + rs(URL, 95), None),
                            ("dp.st." + rs(AN, 43), None), ("dapi" + rs(HEX, 32), None), ("LTAI" + rs(AN, 20), None),
                            ("dt0c01." + rs(AN, 24) + "." + rs(AN, 64), None)], ["dp.pt.short", "hvs.x"])
h = uuid()
S["cloud-keyword-secret"] = ([("HEROKU_API_KEY=" + h, h), ("VAULT_TOKEN=s." + rs(AN, 24), None), ("CLOUDFLARE_API_TOKEN=" + rs(URL, 40), None)],
                             ["heroku app started", "vault sealed"])
az = rs(AN, 3) + "8Q~" + rs(AN + "_~.-", 34)
S["azure-ad-client-secret"] = ([("secret " + az, az)], ["Q~ alone"])
S["registry-token"] = ([("npm_" + rs(AN, 36), None), ("pypi-AgEIcHlwaS5vcmc" + rs(URL, 70), None), ("rubygems_" + rs(HEX, 48), None),
                        ("oy2" + rs(LOW, 43), None), ("AKCp" + rs(AN, 69), None), ("CLOJARS_" + rs(LOW, 60), None)], ["npm_config_cache", "oy2 short"])
S["saas-token"] = ([("lin_api_" + rs(LOW, 40), None), ("NRAK-" + rs(LOW, 27), None), ("pscale_tkn_" + rs(URL, 40), None),
                    ("pnu_" + rs(AN, 36), None), ("pul-" + rs(HEX, 40), None), ("glc_" + rs(B64, 40), None), ("sntryu_" + rs(HEX, 64), None)], ["lin_api_short", "pul-1"])
S["airtable-token"] = ([("pat%s.%s" % (rs(AN, 14), rs(HEX, 64)), None)], ["pat_short.1", "path/to/file.rs"])
S["saas-token-shape"] = ([("test_%s" % rs(HEX, 35), None), ("%s_%s_mmk" % (rs(AN, 6), rs(AN, 29)), None)], ["test_runner_2"])
S["clickhouse-key"] = ([("4b1d" + rs(AN, 38), None)], ["4b1d"])
sk = "%s:%s" % (rs(HEX, 8), rs(HEX, 8))
S["sidekiq-secret"] = ([("BUNDLE_ENTERPRISE__CONTRIBSYS__COM=" + sk, sk)], ["sidekiq: 5 workers busy"])
S["onepassword-secret-key"] = ([("A3-%s-%s-%s-%s-%s-%s" % tuple(rs(string.ascii_uppercase + string.digits, n) for n in (6, 6, 5, 5, 5, 5)), None)], ["A3-paper size"])
S["age-secret-key"] = ([("AGE-SECRET-KEY-1" + rs("QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L", 58), None)], ["AGE-SECRET-KEY-1 short"])
S["mapbox-mailchimp-key"] = ([("pk.%s.%s" % (rs(AN, 60), rs(AN, 22)), None), ("%s-us12" % rs(HEX, 32), None)], ["pk.1.2", "en-us"])
S["twitter-bearer-token"] = ([("A" * 22 + rs(AN + "%", 90), None)], ["AAAA"])
S["url-credentials"] = ([("postgres://app:%s@db.internal:5432/x" % rs(AN, 12), None)], ["https://example.com/path", "git@github.com:acme/api.git"])
pw = rs(AN, 12)
S["kv-password"] = ([("db_password=" + pw, pw), ('password = "correct horse %s"' % rs(AN, 6), None), ("password: " + rs(AN, 10) + " battery staple", None)],
                    ["password reset requested", "password=${DB_PASSWORD}", "the password field is required"])
kv = rs(AN, 20)
S["kv-secret"] = ([("GITHUB_TOKEN=" + kv, kv), ('apiKey: "%s"' % rs(AN, 24), None)],
                  ["publicToken = " + rs(AN, 20), "csrf-token=" + rs(AN, 20), "max_tokens=4096", "access_token=ACCESS_TOKEN"])
S["kv-xml-secret"] = ([("<apiToken>\n  %s\n</apiToken>" % rs(AN, 24), None)], ["<apiToken></apiToken>"])
S["email"] = ([("mail alice.kowalczyk@example.org now", "alice.kowalczyk@example.org")], ["git@github.com:acme/api.git", "image ghcr.io/acme/api:1.2.3"])
c = luhn("35" + str(R.randint(28, 89)), 16)
S["payment-card"] = ([("card " + c, c), ("diners " + luhn("36", 14), None), ("unionpay " + luhn("62", 16), None), ("mir " + luhn("2200", 16), None)],
                     ["order 4111111111111112", "ts 1764080878123", "v 10.0.19041.1"])
ib = iban("DE", rs(string.digits, 18))
bad = ib[:2] + "%02d" % ((int(ib[2:4]) + 1) % 100) + ib[4:]
S["iban"] = ([("refund to " + ib, ib)], [bad, "DE00 1234"])
S["us-ssn"] = ([("ssn 123-45-6789", "123-45-6789"), ("SSN: 219099999", None)], ["000-12-3456", "666-12-3456", "912-34-5678", "2026-01-15"])
S["phone"] = ([("call me, phone: 0151 2345678", None), ("tel:+4930123456", None)], ["telemetry 2026-01-15 10:00:00", "phone: none", "cellar 1234567"])
S["phone-intl"] = ([("+1 415 555 0132", "+1 415 555 0132"), ("(415) 555-0132", None)], ["+1.2.3", "ratio +0.5"])
S["phone-national"] = ([("06 12 34 56 78", None), ("020 7946 0958", None)], ["2026 01 15", "1 2 3 4"])
S["mac-address"] = ([("iface %s up" % ":".join(rs(HEX, 2) for _ in range(6)), None)], ["00:00:00:00:00:00", "12:30:45"])
S["mac-address-dash"] = ([("nic %s" % "-".join(rs(HEX, 2).upper() for _ in range(6)), None)], ["2026-01-15-10-30-45"])
S["ipv4"] = ([("from 81.2.69.160", "81.2.69.160")], ["10.0.0.1", "192.168.1.20", "127.0.0.1", "Chrome/120.0.0.0", "203.0.113.5"])
S["ipv6"] = ([("peer 2a00:1450:4001::%s" % rs(HEX, 4), None)], ["::1", "std::vector"])
S["ipv6-full"] = ([("addr 2a00:1450:4001:82b:0:0:0:%s" % rs(HEX, 4), None)], ["01:02:03:04:05:06:07"])
S["home-user"] = ([("/home/jkowalczyk/src", "jkowalczyk")], ["/home/", "/Users/Shared/x"])

for rule, (pos, neg) in S.items():
    print(json.dumps({"rule": rule, "positive": [{"text": t, "secret": sec} for t, sec in pos],
                      "negative": neg}, sort_keys=True))
