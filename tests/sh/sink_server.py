#!/usr/bin/python3
"""sink_server.py -- a loopback receiver for voxtelem-upload's tests and bench.

    sink_server.py PORTFILE STATEFILE [PLAN] [MAX_REQUESTS]

Listens on 127.0.0.1 only (port chosen by the kernel, written to PORTFILE)
and implements the receiver side of docs/reference/sink-wire.md
independently of the uploader: it checks the bearer token and the
HMAC-SHA256 signature with Python's hmac, and stores each item once per
idempotency key (a repeat is answered 200 and counted in `repeats`, never
stored again).

PLAN is a comma-separated list of what to do with the 1st, 2nd, ...
request; requests past the list are answered normally:
  ok        store, 200
  500 503   answer that status, store nothing
  429       429 with Retry-After: 1, store nothing
  400       400, store nothing (a rejection)
  reset     read the request, then reset the connection (no answer)
  timeout   read the request, wait 4 s, store nothing (the client gives up)
  lost      store, then reset the connection: a 2xx whose answer is lost
  slow      store, then send the 200 answer one byte every 50 ms
With SINK_TLS_CERT and SINK_TLS_KEY set it speaks HTTPS with that
certificate.  After MAX_REQUESTS requests (default 10000) the server refuses with 503,
so a runaway client cannot loop forever.  The state is written to
STATEFILE (JSON) after every request.
"""
import hashlib
import hmac
import json
import os
import socket
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORTFILE, STATEFILE = sys.argv[1], sys.argv[2]
PLAN = [p for p in (sys.argv[3] if len(sys.argv) > 3 else "").split(",") if p]
MAX_REQUESTS = int(sys.argv[4]) if len(sys.argv) > 4 else 10000
KEY = os.environ.get("VOX_TELEMETRY_SIGNING_KEY", "").encode()
KEY_ID = os.environ.get("VOX_TELEMETRY_SIGNING_KEY_ID", "default")
TOKEN = os.environ.get("VOX_TELEMETRY_UPLOAD_TOKEN", "").strip()

lock = threading.Lock()
state = {
    "requests": 0,          # POSTs received
    "stored": {},           # idempotency key -> the item's body (stored once)
    "store_order": [],      # keys in the order they were stored
    "repeats": 0,           # items whose key was already stored
    "sig_ok": 0, "sig_bad": 0, "sig_missing": 0,
    "auth_bad": 0,
    "times": [],            # arrival time of each request (monotonic seconds)
    "content_types": [],
    "statuses": [],         # the action taken for each request
    "signatures": [],       # [timestamp, signature, key id] of each request
}


def save():
    tmp = STATEFILE + ".tmp"
    with open(tmp, "w") as f:
        json.dump(state, f)
    os.replace(tmp, STATEFILE)


def rst(sock):
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out at once (no 40 ms delayed-ACK stalls)

    def log_message(self, *a):
        pass

    def finish(self):
        try:
            super().finish()
        except OSError:
            pass

    def answer(self, status, extra=None, body=b"{}"):
        self.send_response(status)
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        with lock:
            body = json.dumps(state).encode()
        self.answer(200, body=body)

    def store(self, body):
        """Stores each item once per key; returns nothing."""
        h = self.headers
        items = [body]
        keys = [h.get("Idempotency-Key", "")]
        if h.get("X-Vox-Telemetry-Item-Keys"):
            keys = h["X-Vox-Telemetry-Item-Keys"].split(",")
            items = body.decode().rstrip("\n").split("\n")
            assert len(items) == len(keys), "item keys do not match the lines"
        else:
            items = [body.decode()]
        for k, it in zip(keys, items):
            json.loads(it)  # every item is JSON
            if k in state["stored"]:
                state["repeats"] += 1
            else:
                state["stored"][k] = it
                state["store_order"].append(k)

    def do_POST(self):
        t = time.monotonic()
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        h = self.headers
        with lock:
            state["requests"] += 1
            i = state["requests"]
            state["times"].append(t)
            state["content_types"].append(h.get("Content-Type", ""))
            action = PLAN[i - 1] if i <= len(PLAN) else "ok"
            if i > MAX_REQUESTS:
                action = "503"
            # signature: HMAC-SHA256(key, timestamp "\n" body), hex, "v1="
            sig = h.get("X-Vox-Telemetry-Signature")
            ts = h.get("X-Vox-Telemetry-Timestamp", "")
            state["signatures"].append([ts, sig, h.get("X-Vox-Telemetry-Key-Id")])
            if KEY:
                if not sig:
                    state["sig_missing"] += 1
                else:
                    want = "v1=" + hmac.new(KEY, ts.encode() + b"\n" + body, hashlib.sha256).hexdigest()
                    good = hmac.compare_digest(want, sig) and h.get("X-Vox-Telemetry-Key-Id") == KEY_ID
                    state["sig_ok" if good else "sig_bad"] += 1
            if TOKEN and h.get("Authorization") != "Bearer " + TOKEN:
                state["auth_bad"] += 1
            state["statuses"].append(action)
            if action in ("ok", "lost", "slow"):
                self.store(body)
            save()
        if action == "ok":
            self.answer(200)
        elif action in ("500", "503", "400"):
            self.answer(int(action), body=b'{"error":"planned"}')
        elif action == "429":
            self.answer(429, {"Retry-After": "1"})
        elif action in ("reset", "lost"):
            self.close_connection = True
            rst(self.connection)
        elif action == "timeout":
            time.sleep(4)
            self.close_connection = True
            rst(self.connection)
        elif action == "slow":
            payload = b'{"status":"stored"}'
            self.send_response(200)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.flush()
            for b in payload:
                self.wfile.write(bytes([b]))
                self.wfile.flush()
                time.sleep(0.05)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


srv = Server(("127.0.0.1", 0), Handler)
if os.environ.get("SINK_TLS_CERT"):
    # HTTPS with the test's self-signed certificate (SINK_TLS_CERT, SINK_TLS_KEY)
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.environ["SINK_TLS_CERT"], os.environ["SINK_TLS_KEY"])
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
with lock:
    save()
with open(PORTFILE + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
os.replace(PORTFILE + ".tmp", PORTFILE)
srv.serve_forever()
