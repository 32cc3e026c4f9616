package benchkit

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Nginx is a plain nginx, the baseline of the site benchmarks: one worker,
// no access log, its own prefix directory, bound to 127.0.0.1, run in the
// foreground (`daemon off`) so that its master is our child and is stopped
// by its PID.
type Nginx struct {
	Prefix string
	Port   int
	cmd    *exec.Cmd
}

const nginxConfig = `daemon off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log;
events { worker_connections 1024; }
http {
  sendfile on;
  tcp_nopush on;
  keepalive_timeout 65;
  access_log off;
  client_body_temp_path %[1]s/tmp; proxy_temp_path %[1]s/tmp;
  fastcgi_temp_path %[1]s/tmp; uwsgi_temp_path %[1]s/tmp; scgi_temp_path %[1]s/tmp;
  server { listen 127.0.0.1:%[2]d; root %[3]s; }
}
`

// StartNginx writes the config into prefix (created) and spawns nginx
// serving root on 127.0.0.1:port. It does not wait for the port.
func StartNginx(binary, prefix, root string, port int) (*Nginx, error) {
	if err := os.MkdirAll(filepath.Join(prefix, "tmp"), 0o755); err != nil {
		return nil, err
	}
	conf := filepath.Join(prefix, "nginx.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(nginxConfig, prefix, port, root)), 0o644); err != nil {
		return nil, err
	}
	cmd := exec.Command(binary, "-p", prefix, "-c", conf, "-e", filepath.Join(prefix, "error.log"))
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("nginx: %w", err)
	}
	return &Nginx{Prefix: prefix, Port: port, cmd: cmd}, nil
}

// URL is the address of path on this nginx.
func (n *Nginx) URL(path string) string {
	return "http://127.0.0.1:" + strconv.Itoa(n.Port) + path
}

// Pid is the master's PID.
func (n *Nginx) Pid() int { return n.cmd.Process.Pid }

// Stop asks the master to quit gracefully (SIGQUIT) and kills it after
// 10 s; its worker exits with it.
func (n *Nginx) Stop() {
	_ = n.cmd.Process.Signal(syscall.SIGQUIT)
	done := make(chan struct{})
	go func() { _ = n.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = n.cmd.Process.Kill()
		<-done
	}
}

// NginxColdStart spawns a fresh nginx in prefix and returns the time from
// the spawn to its first 200 for path. Other processes on the machine take
// ports from the same range, so when nginx could not bind its port it is
// tried again on a new one (three tries), and only that try is timed.
func NginxColdStart(binary, prefix, root, path string) (time.Duration, *Nginx, error) {
	for try := 1; ; try++ {
		port, err := freshPort()
		if err != nil {
			return 0, nil, err
		}
		t0 := time.Now()
		n, err := StartNginx(binary, prefix, root, port)
		if err != nil {
			return 0, nil, err
		}
		err = FirstOK(n.URL(path), 10*time.Second)
		if err == nil {
			return time.Since(t0), n, nil
		}
		n.Stop()
		log, _ := os.ReadFile(filepath.Join(prefix, "error.log"))
		if try == 3 || !strings.Contains(string(log), "Address already in use") {
			return 0, nil, fmt.Errorf("%w (nginx's error log: %s)", err, log)
		}
	}
}
