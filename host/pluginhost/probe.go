package pluginhost

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// RawOptions starts a plugin binary directly, without go-plugin, to look
// at what it does on its own (handshake line, exit status, stderr).
type RawOptions struct {
	Path string
	Args []string
	// Env is added to the host environment after the go-plugin variables,
	// so it can override them.
	Env []string
	// OmitCookie leaves NOMAD_PLUGIN_MAGIC_COOKIE out of the environment.
	OmitCookie bool
	// ProtocolVersions is PLUGIN_PROTOCOL_VERSIONS; "" means "2".
	ProtocolVersions string
	// MinPort and MaxPort are PLUGIN_MIN_PORT/PLUGIN_MAX_PORT; 0 means the
	// go-plugin defaults.
	MinPort, MaxPort int
}

// RawProcess is a plugin process started by StartRaw.
type RawProcess struct {
	cmd    *exec.Cmd
	lines  chan string
	done   chan struct{}
	mu     sync.Mutex
	stderr bytes.Buffer
	status *os.ProcessState
}

// PortRange is the PLUGIN_MIN_PORT..PLUGIN_MAX_PORT range the process gets.
func (o RawOptions) PortRange() (int, int) {
	min, max := o.MinPort, o.MaxPort
	if min == 0 {
		min = DefaultPluginMinPort
	}
	if max == 0 {
		max = DefaultPluginMaxPort
	}
	return min, max
}

// StartRaw runs the binary with the environment a Nomad agent gives it.
func StartRaw(o RawOptions) (*RawProcess, error) {
	min, max := o.PortRange()
	versions := o.ProtocolVersions
	if versions == "" {
		versions = strconv.Itoa(AppProtocolVersion)
	}
	env := os.Environ()
	if !o.OmitCookie {
		env = append(env, MagicCookieKey+"="+MagicCookieValue)
	} else {
		env = withoutVar(env, MagicCookieKey)
	}
	env = append(env,
		"PLUGIN_MIN_PORT="+strconv.Itoa(min),
		"PLUGIN_MAX_PORT="+strconv.Itoa(max),
		"PLUGIN_PROTOCOL_VERSIONS="+versions)
	env = append(env, o.Env...)

	cmd := exec.Command(o.Path, o.Args...)
	cmd.Env = env
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	p := &RawProcess{cmd: cmd, lines: make(chan string, 64), done: make(chan struct{})}
	cmd.Stderr = lockedWriter{&p.mu, &p.stderr}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case p.lines <- sc.Text():
			default: // nobody is reading further lines; drop them
			}
		}
		close(p.lines)
		_ = cmd.Wait()
		p.mu.Lock()
		p.status = cmd.ProcessState
		p.mu.Unlock()
		close(p.done)
	}()
	return p, nil
}

func withoutVar(env []string, key string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if len(kv) > len(key) && kv[:len(key)+1] == key+"=" {
			continue
		}
		out = append(out, kv)
	}
	return out
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// Pid is the process id.
func (p *RawProcess) Pid() int { return p.cmd.Process.Pid }

// FirstLine waits for the first stdout line.
func (p *RawProcess) FirstLine(timeout time.Duration) (string, error) {
	select {
	case line, ok := <-p.lines:
		if !ok {
			return "", errors.New("stdout closed before any line was written")
		}
		return line, nil
	case <-time.After(timeout):
		return "", fmt.Errorf("no stdout line within %v (is it flushed?)", timeout)
	}
}

// Wait waits for the process to exit. It returns the exit code (-1 if
// killed by a signal) and false if the timeout passed first.
func (p *RawProcess) Wait(timeout time.Duration) (int, bool) {
	select {
	case <-p.done:
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.status.ExitCode(), true
	case <-time.After(timeout):
		return 0, false
	}
}

// Stderr returns what the process wrote to stderr so far.
func (p *RawProcess) Stderr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// Signal sends sig to the process.
func (p *RawProcess) Signal(sig syscall.Signal) error {
	return syscall.Kill(p.Pid(), sig)
}

// Kill SIGKILLs the process if it still runs and waits for it.
func (p *RawProcess) Kill() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = syscall.Kill(p.Pid(), syscall.SIGKILL)
	<-p.done
}
