# Stand-in for the platform API during scripts/smoke.sh: allows every MediaMTX auth request and
# prints each request as one JSON line, which smoke.sh then reads from "docker compose logs api".
import json
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        raw = self.rfile.read(length).decode("utf-8", "replace")
        try:
            body = json.loads(raw)
        except ValueError:
            body = {"unparsed": raw}
        print(json.dumps({"path": self.path, "body": body}), flush=True)
        self.send_response(200 if self.path.endswith("/auth") else 204)
        self.end_headers()

    def log_message(self, *args):
        pass  # the JSON line above is the log


HTTPServer(("0.0.0.0", 3000), Handler).serve_forever()
