#!/usr/bin/python3
"""One hop with generations: the serving design ARCHITECTURE.md proposes for
static pools, measured against a plain nginx in one run.

Each generation of the "pool" is its own nginx master on its own listening
socket in one SO_REUSEPORT group this script creates (as the plugin would).
A one-instruction classic BPF program on the group (SO_ATTACH_REUSEPORT_CBPF)
sends new connections to the newest ready generation; the old one keeps its
connections until keepalive_requests ends each (Connection: close) and is
QUIT once its stub_status shows no client connection (or after 5 s). The
script keeps a copy of each socket and closes it only after its generation
is gone, so it knows the group's order (the kernel moves the last socket
into a removed one's slot); a recycle waits for the previous drain, so at
most two generations exist.

    bench/generations/run.py [-duration 10] [-every 1] [-rounds 3] [-keepalive-requests 100]

Prints req/s, p99 and socket errors of wrk -t2 -c64 on a 1 KiB file: the
generations while recycling every `-every` seconds, and a plain nginx (one
worker, no access log, same file), alternating, medians of the rounds; and
the errors of that nginx when it is reloaded (SIGHUP) as often, which is
what a one-hop recycle without generations does.
Everything runs under a temp directory on 127.0.0.1 and is stopped by PID.
"""
import argparse, ctypes, http.client, os, re, shutil, signal, socket, statistics
import struct, subprocess, sys, tempfile, threading, time

SO_ATTACH_REUSEPORT_CBPF = 51
BPF_RET_K = 0x06


def attach_steering(sock, index):
    """Every new connection of the group goes to the socket at `index`."""
    program = ctypes.create_string_buffer(struct.pack("HBBI", BPF_RET_K, 0, 0, index), 8)
    fprog = struct.pack("HxxxxxxQ", 1, ctypes.addressof(program))
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, fprog)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def group_listener(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    s.bind(("127.0.0.1", port))
    s.listen(1024)
    return s


def start_nginx(prefix, conf_text, inherited=None):
    os.makedirs(prefix, exist_ok=True)
    conf = os.path.join(prefix, "nginx.conf")
    with open(conf, "w") as f:
        f.write(conf_text)
    argv = ["nginx", "-p", prefix + "/", "-c", conf, "-e", os.path.join(prefix, "error.log")]
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    if inherited is None:
        return subprocess.Popen(argv, env=env)
    # nginx takes inherited listening sockets from NGINX="fd;" (its binary upgrade).
    fd = inherited.fileno()
    env["NGINX"] = "%d;" % fd
    return subprocess.Popen(argv, env=env, pass_fds=(fd,))


def stop(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGQUIT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Generation:
    def __init__(self, root, number, sock, port, keepalive_requests):
        self.dir = os.path.join(root, "gen%d" % number)
        self.sock = sock
        self.status = os.path.join(self.dir, "status.sock")
        self.proc = start_nginx(self.dir, f"""
worker_processes 1; daemon off; pid {self.dir}/nginx.pid; error_log {self.dir}/error.log warn;
events {{ worker_connections 4096; }}
http {{ access_log off; sendfile on; keepalive_requests {keepalive_requests};
  server {{ listen 127.0.0.1:{port}; location / {{ root {root}/www; }} }}
  server {{ listen unix:{self.status}; location / {{ stub_status; }} }}
}}""", sock)

    def clients(self):
        conn = http.client.HTTPConnection("localhost", timeout=2)
        conn.sock = socket.socket(socket.AF_UNIX)
        conn.sock.connect(self.status)
        conn.request("GET", "/")
        body = conn.getresponse().read().decode()
        conn.close()
        return int(body.split("Active connections:")[1].split()[0]) - 1  # not this one

    def wait_ready(self, limit=5.0):
        deadline = time.time() + limit
        while time.time() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                self.clients()
                return True
            except OSError:
                time.sleep(0.005)
        return False


class Pool:
    """The generations of one pool and the group's order as the kernel keeps it."""

    def __init__(self, root, port, keepalive_requests):
        self.root, self.port, self.kr = root, port, keepalive_requests
        self.group = []
        self.number = 0
        self.current = self._new()
        self.draining = None
        self.recycles = 0
        self.drains = []

    def _new(self):
        sock = group_listener(self.port)
        self.group.append(sock)
        gen = Generation(self.root, self.number, sock, self.port, self.kr)
        self.number += 1
        if not gen.wait_ready():
            raise RuntimeError("generation %d did not start" % (self.number - 1))
        return gen

    def recycle(self):
        if self.draining:
            self._finish(self.draining)
        attach_steering(self.current.sock, self.group.index(self.current.sock))
        fresh = self._new()
        attach_steering(fresh.sock, self.group.index(fresh.sock))
        self.draining, self.current = self.current, fresh
        self.recycles += 1

    def _finish(self, gen, limit=5.0):
        started = time.time()
        while time.time() - started < limit and gen.clients() > 0:
            time.sleep(0.05)
        stop(gen.proc)
        i = self.group.index(gen.sock)
        self.group[i] = self.group[-1]  # the kernel's removal from the group
        self.group.pop()
        gen.sock.close()
        self.drains.append(time.time() - started)

    def close(self):
        if self.draining:
            self._finish(self.draining)
        stop(self.current.proc)
        self.current.sock.close()


def wrk(url, seconds):
    out = subprocess.run(["wrk", "-t2", "-c64", "-d%ds" % seconds, "--latency", url],
                         capture_output=True, text=True, check=True).stdout
    if os.environ.get("SHOW_WRK"): print(out, file=sys.stderr)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rps, float(p99.group(1)) * scale, errors + (int(non2xx.group(1)) if non2xx else 0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-duration", type=int, default=10)
    ap.add_argument("-every", type=float, default=1.0)
    ap.add_argument("-rounds", type=int, default=3)
    ap.add_argument("-keepalive-requests", type=int, default=100)
    args = ap.parse_args()
    root = tempfile.mkdtemp(prefix="bench-generations-")
    os.chmod(root, 0o755)  # nginx workers run as nobody
    os.makedirs(os.path.join(root, "www"))
    with open(os.path.join(root, "www", "1k.bin"), "wb") as f:
        f.write(os.urandom(1024))
    plain_port, pool_port = free_port(), free_port()
    plain = start_nginx(os.path.join(root, "plain"), f"""
worker_processes 1; daemon off; pid {root}/plain/nginx.pid; error_log {root}/plain/error.log warn;
events {{ worker_connections 4096; }}
http {{ access_log off; sendfile on;
  server {{ listen 127.0.0.1:{plain_port}; location / {{ root {root}/www; }} }} }}""")
    pool = Pool(root, pool_port, args.keepalive_requests)
    results = {"generations": [], "nginx": [], "reloaded": []}
    try:
        time.sleep(0.3)
        recycle = {"generations": pool.recycle, "reloaded": lambda: plain.send_signal(signal.SIGHUP)}
        for r in range(args.rounds):
            order = ["generations", "nginx", "reloaded"]
            for side in (order[::-1] if r % 2 else order):
                port = pool_port if side == "generations" else plain_port
                url = "http://127.0.0.1:%d/1k.bin" % port
                if side == "nginx":
                    results[side].append(wrk(url, args.duration))
                    continue
                done = threading.Event()
                def recycling(step=recycle[side]):
                    while not done.wait(args.every):
                        step()
                t = threading.Thread(target=recycling)
                t.start()
                try:
                    results[side].append(wrk(url, args.duration))
                finally:
                    done.set()
                    t.join()
                time.sleep(2)  # the last recycle's old workers are gone before the next side
    finally:
        pool.close()
        stop(plain)
        shutil.rmtree(root, ignore_errors=True)
    med = lambda side, k: statistics.median(x[k] for x in results[side])
    g_rps, n_rps = med("generations", 0), med("nginx", 0)
    g_p99, n_p99 = med("generations", 1), med("nginx", 1)
    errors = sum(x[2] for x in results["generations"])
    load = os.getloadavg()[0]
    print(f"# one hop with generations, {time.strftime('%Y-%m-%d %H:%M')}, load {load:.1f}, "
          f"wrk -t2 -c64 1 KiB, {args.rounds} x {args.duration}s, recycle every {args.every}s, "
          f"keepalive_requests {args.keepalive_requests}")
    print("| metric | generations | nginx | ratio | target |")
    print("|---|---|---|---|---|")
    print(f"| req/s (median) | {g_rps:.0f} | {n_rps:.0f} | {g_rps / n_rps:.2f} | >= 0.9 |")
    print(f"| p99 ms (median) | {g_p99:.2f} | {n_p99:.2f} | {g_p99 / n_p99:.2f} | <= 1.2 |")
    print(f"| errors (all rounds) | {errors} | {sum(x[2] for x in results['nginx'])} | | 0 |")
    r_rps, r_p99 = med("reloaded", 0), med("reloaded", 1)
    print(f"| nginx reloaded (SIGHUP) as often: req/s, p99 ms | | {r_rps:.0f}, {r_p99:.2f} | "
          f"{g_rps / r_rps:.2f}, {g_p99 / r_p99:.2f} | |")
    print(f"| nginx reloaded (SIGHUP) as often: errors | | {sum(x[2] for x in results['reloaded'])} | | |")
    drains = sorted(pool.drains)
    print(f"| recycles / drain median ms | {pool.recycles} | "
          f"{1000 * statistics.median(drains):.0f} ms | | |" if drains else "| recycles | 0 | | | |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
