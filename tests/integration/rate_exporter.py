"""rate_exporter.py - the Prometheus exporter the router tests share: one
loopback HTTP server whose counters grow at a set rate per key (a route, a
service, a workload), a share of them errors, every request taking a set
latency. A test subclasses it with the provider's metric names and labels
(HEADER and series()); set() changes a key's rate, error ratio and latency
from now on, keeping what was counted so far. It only serves numbers."""
import http.server
import threading
import time


def histogram(name, lab, n, lat, buckets):
    """Bucket, +Inf, count and sum lines of a histogram where each of n
    observations equals lat."""
    out = ['%s_bucket{%s,le="%g"} %.3f' % (name, lab, le, n if lat <= le else 0.0) for le in buckets]
    out.append('%s_bucket{%s,le="+Inf"} %.3f' % (name, lab, n))
    out.append('%s_count{%s} %.3f' % (name, lab, n))
    out.append('%s_sum{%s} %.4f' % (name, lab, n * lat))
    return out


class RateExporter:
    HEADER = []     # "# TYPE ..." lines
    BUCKETS = []    # in the unit of the latencies set()

    def series(self, key, n, errs, lat):
        """The sample lines of one key: n requests so far, errs of them
        errors, each taking lat."""
        raise NotImplementedError

    def __init__(self):
        self.lock = threading.Lock()
        self.rows = {}   # key -> [count, errors, since, rps, error ratio, latency]
        env = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = env.render().encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.port = self.server.server_address[1]

    def _advance(self):
        now = time.time()
        for r in self.rows.values():
            d = r[3] * (now - r[2])
            r[0] += d
            r[1] += d * r[4]
            r[2] = now

    def set(self, key, rps, err, latency):
        with self.lock:
            self._advance()
            r = self.rows.setdefault(key, [0.0, 0.0, time.time(), 0, 0, 0])
            r[3:] = [rps, err, latency]

    def render(self):
        with self.lock:
            self._advance()
            rows = {k: (r[0], r[1], r[5]) for k, r in self.rows.items()}
        out = list(self.HEADER)
        for key, (n, errs, lat) in sorted(rows.items()):
            out += self.series(key, n, errs, lat)
        return "\n".join(out) + "\n"

    def close(self):
        self.server.shutdown()
