"""A tiny web application for the httpPlatform tests: it listens where the
HTTP platform handler tells it (HTTP_PLATFORM_PORT, also passed as --port)
and reports what it sees."""

import http.server
import os
import signal
import sys


def main():
    args = sys.argv[1:]
    port = int(args[args.index("--port") + 1]) if "--port" in args else int(
        os.environ["HTTP_PLATFORM_PORT"])

    held = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path.startswith("/allocate?mb="):
                # Memory limit tests: holds (and touches) this many MiB.
                held.append(bytearray(int(self.path.split("=", 1)[1]) << 20))
            body = ("%s pid=%d port=%d env_port=%s path=%s tmp=%s uid=%d\n" % (
                os.environ.get("GREETING", ""), os.getpid(), port,
                os.environ.get("HTTP_PLATFORM_PORT"), self.path,
                os.environ.get("TMP"), os.getuid())).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            data = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            body = b"pid=%d received=" % os.getpid() + data
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, fmt, *fmt_args):
            sys.stderr.write("app.py: " + (fmt % fmt_args) + "\n")

    if "--ignore-term" in args:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    else:
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    print("app.py listening on 127.0.0.1:%d" % port, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
