"""A webhook receiver for esign: checks Esign-Signature, refuses replays, handles each event once.

    python3 docs/examples/webhook_receiver.py PORT SECRET

prints one line per verified event (its type and subject) and answers 400 to anything unsigned or stale.
"""

# --- the receiver's code, as the README shows it ---
import hashlib
import hmac
import json
import time

SECRET = "whsec_..."  # from the answer to POST /v1/webhooks
TOLERANCE = 5 * 60  # seconds
seen: set[str] = set()  # ids of events already handled; in production, a table with a unique key


def verify(secret: str, body: bytes, header: str, now: float | None = None) -> bool:
    """Whether the Esign-Signature header signs this raw body and was made within TOLERANCE of now."""
    try:
        fields = dict(part.split("=", 1) for part in header.split(","))
        t = int(fields["t"])
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - t) > TOLERANCE:
        return False  # too old or too far ahead: a replay
    expected = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, fields.get("v1", ""))


def receive(body: bytes, headers: dict[str, str]) -> int:
    """Handle one POST (body: the raw bytes, before any JSON parsing); the status to answer."""
    if not verify(SECRET, body, headers.get("Esign-Signature", "")):
        return 400
    event = json.loads(body)
    if event["id"] in seen:
        return 200  # delivered again (at least once): acknowledge, do nothing
    handle(event)  # your code: event["type"], event["subject"], event["data"]
    seen.add(event["id"])
    return 200


# --- a small HTTP server around it ---


def handle(event: dict) -> None:
    print(event["type"], event["subject"], flush=True)


if __name__ == "__main__":
    import sys
    from http.server import BaseHTTPRequestHandler, HTTPServer

    SECRET = sys.argv[2]

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(receive(body, dict(self.headers)))
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
