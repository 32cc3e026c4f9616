package tests

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"nomad_iis/gen/driverpb"
	"nomad_iis/host/pluginhost"
)

// `nomad alloc exec` (ExecTaskStreaming) and script checks (ExecTask),
// through the real plugin as the Nomad client calls them.

// Two pools: "a" (ApplicationPoolIdentity, the driver's own user) and "b"
// (LocalService: the Unix user nobody).
const execPools = `{
  "application_pool": [{"name": "a"}, {"name": "b", "identity": "LocalService"}],
  "application": [
    {"path": "local/a", "application_pool": "a"},
    {"path": "local/b", "alias": "b", "application_pool": "b"}
  ],
  "binding": [{"type": "http", "port": "httplabel"}]
}`

func newExecSite(t *testing.T, env map[string]string) *siteEnv {
	t.Helper()
	identities := map[string]interface{}{
		"allowed_apppool_identities": []string{"ApplicationPoolIdentity", "LocalService"}}
	e := newSiteEnvWith(t, identities, execPools, env)
	writeFile(t, filepath.Join(e.task.Dir().LocalDir, "a", "index.html"), "exec-a")
	writeFile(t, filepath.Join(e.task.Dir().LocalDir, "b", "index.html"), "exec-b")
	e.start(t)
	return e
}

// execSession is one ExecTaskStreaming call.
type execSession struct {
	stream driverpb.Driver_ExecTaskStreamingClient
	cancel context.CancelFunc
}

func (e *siteEnv) openExec(t *testing.T, command []string, tty bool) *execSession {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	stream, err := e.host.Client().Driver.ExecTaskStreaming(ctx)
	if err != nil {
		t.Fatalf("ExecTaskStreaming: %v", err)
	}
	err = stream.Send(&driverpb.ExecTaskStreamingRequest{Setup: &driverpb.ExecTaskStreamingRequest_Setup{
		TaskId: e.task.TaskID(), Command: command, Tty: tty}})
	if err != nil {
		t.Fatalf("send setup: %v", err)
	}
	return &execSession{stream: stream, cancel: cancel}
}

func (s *execSession) input(t *testing.T, data string, close bool) {
	t.Helper()
	err := s.stream.Send(&driverpb.ExecTaskStreamingRequest{
		Stdin: &driverpb.ExecTaskStreamingIOOperation{Data: []byte(data), Close: close}})
	if err != nil {
		t.Fatalf("send stdin: %v", err)
	}
}

func (s *execSession) resize(t *testing.T, rows, cols int32) {
	t.Helper()
	err := s.stream.Send(&driverpb.ExecTaskStreamingRequest{
		TtySize: &driverpb.ExecTaskStreamingRequest_TerminalSize{Height: rows, Width: cols}})
	if err != nil {
		t.Fatalf("send tty_size: %v", err)
	}
}

type execOutcome struct {
	stdout, stderr string
	closed         int // stdout and stderr close frames
	result         *driverpb.ExitResult
	err            error // the call's error, if it ended with one
}

// wait reads the stream to its end.
func (s *execSession) wait() execOutcome {
	var out execOutcome
	for {
		resp, err := s.stream.Recv()
		if err == io.EOF {
			return out
		}
		if err != nil {
			out.err = err
			return out
		}
		if o := resp.GetStdout(); o != nil {
			out.stdout += string(o.GetData())
			if o.GetClose() {
				out.closed++
			}
		}
		if o := resp.GetStderr(); o != nil {
			out.stderr += string(o.GetData())
			if o.GetClose() {
				out.closed++
			}
		}
		if resp.GetExited() {
			out.result = resp.GetResult()
		}
	}
}

func (e *siteEnv) runExec(t *testing.T, command ...string) execOutcome {
	t.Helper()
	s := e.openExec(t, command, false)
	s.input(t, "", true)
	out := s.wait()
	if out.err != nil || out.result == nil {
		t.Fatalf("exec %q: %+v", command, out)
	}
	return out
}

func TestExecCapability(t *testing.T) {
	e := newExecSite(t, nil)
	caps, err := e.host.Client().Driver.Capabilities(ctxTimeout(t, 10*time.Second), &driverpb.CapabilitiesRequest{})
	if err != nil || !caps.GetCapabilities().GetExec() {
		t.Fatalf("capabilities.exec: %+v %v, want true", caps, err)
	}
}

func TestExecOutputStdinAndExitCode(t *testing.T) {
	e := newExecSite(t, nil)
	s := e.openExec(t, []string{"/bin/sh", "-c", "cat; echo to-stderr >&2; exit 3"}, false)
	s.input(t, "hello ", false)
	s.stream.Send(&driverpb.ExecTaskStreamingRequest{}) // a heartbeat: ignored
	s.input(t, "world\n", true)
	out := s.wait()
	if out.err != nil || out.result == nil {
		t.Fatalf("exec: %+v", out)
	}
	if out.stdout != "hello world\n" || out.stderr != "to-stderr\n" || out.result.GetExitCode() != 3 || out.closed != 2 {
		t.Fatalf("exec: stdout %q stderr %q result %+v closes %d; want the input back, to-stderr, code 3, 2 closes",
			out.stdout, out.stderr, out.result, out.closed)
	}

	// The unary form, as script checks call it.
	resp, err := e.host.Client().Driver.ExecTask(ctxTimeout(t, 30*time.Second), &driverpb.ExecTaskRequest{
		TaskId: e.task.TaskID(), Command: []string{"/bin/sh", "-c", "echo unary; echo oops >&2; exit 5"},
		Timeout: durationpb.New(10 * time.Second)})
	if err != nil || string(resp.GetStdout()) != "unary\n" || string(resp.GetStderr()) != "oops\n" ||
		resp.GetResult().GetExitCode() != 5 {
		t.Fatalf("ExecTask: %+v %v", resp, err)
	}
	// A unary command past its timeout is killed and reported.
	start := time.Now()
	_, err = e.host.Client().Driver.ExecTask(ctxTimeout(t, 30*time.Second), &driverpb.ExecTaskRequest{
		TaskId: e.task.TaskID(), Command: []string{"/bin/sleep", "30"}, Timeout: durationpb.New(time.Second)})
	if status.Code(err) != codes.DeadlineExceeded || time.Since(start) > 10*time.Second {
		t.Fatalf("ExecTask past its timeout: %v after %v, want DeadlineExceeded soon", err, time.Since(start))
	}
}

func TestExecTTY(t *testing.T) {
	e := newExecSite(t, nil)
	s := e.openExec(t, []string{"/bin/sh", "-c", "read line; tty; stty size; echo \"term=$TERM\""}, true)
	s.resize(t, 33, 101)
	s.input(t, "go\n", false)
	out := s.wait()
	if out.err != nil || out.result == nil || out.result.GetExitCode() != 0 {
		t.Fatalf("exec with a tty: %+v", out)
	}
	if !strings.Contains(out.stdout, "/dev/pts/") || !strings.Contains(out.stdout, "33 101") ||
		!strings.Contains(out.stdout, "term=xterm") { // the task env's TERM, or xterm-256color
		t.Fatalf("exec with a tty: stdout %q, want a /dev/pts path, size 33 101 and a TERM", out.stdout)
	}
	// Input closed on a terminal is end-of-file: cat ends.
	s = e.openExec(t, []string{"/bin/cat"}, true)
	s.input(t, "typed\n", true)
	if out := s.wait(); out.err != nil || out.result == nil || out.result.GetExitCode() != 0 || !strings.Contains(out.stdout, "typed") {
		t.Fatalf("cat on a tty after stdin closed: %+v", out)
	}
}

// uidOf is the real uid of a live process.
func uidOf(t *testing.T, pid int) string {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "Uid:") {
			return strings.Fields(line)[1]
		}
	}
	t.Fatalf("no Uid in /proc/%d/status", pid)
	return ""
}

func TestExecRunsAsThePoolUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("pool users apply only when the plugin runs as root")
	}
	e := newExecSite(t, nil)
	// The default is the first pool (a): its workers' user, the task dir, the task env.
	if code, body, err := getEventually(e.url("/"), 10*time.Second); err != nil || code != 200 || !strings.Contains(body, "exec-a") {
		t.Fatalf("GET /: %d %q %v", code, body, err)
	}
	var workers []int
	for deadline := time.Now().Add(10 * time.Second); len(workers) == 0 && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		workers = e.pools(t)["a"].WorkerProcessIds
	}
	if len(workers) == 0 {
		t.Fatalf("pool a shows no workers")
	}
	out := e.runExec(t, "/bin/sh", "-c", "id -u; pwd; echo \"$NOMAD_TASK_NAME\"")
	lines := strings.Split(strings.TrimSpace(out.stdout), "\n")
	if len(lines) != 3 || lines[0] == "0" || lines[0] != uidOf(t, workers[0]) {
		t.Fatalf("exec in pool a: %q; want the uid of its worker %d (%s), not 0", out.stdout, workers[0], uidOf(t, workers[0]))
	}
	if lines[1] != e.task.Dir().Dir || lines[2] != "app" {
		t.Fatalf("exec in pool a: working dir %q and NOMAD_TASK_NAME %q; want %q and app", lines[1], lines[2], e.task.Dir().Dir)
	}
	// Inside the task's cgroup (its leaf "exec") wherever the task has one:
	// the memory hierarchy (v1) or the unified one (v2) names the task's scope.
	out = e.runExec(t, "/bin/cat", "/proc/self/cgroup")
	if workerCg, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", workers[0])); err == nil && strings.Contains(string(workerCg), ".scope/pool-") {
		if !strings.Contains(out.stdout, ".scope/exec") {
			t.Fatalf("exec is not in the task's cgroup (its worker's: %s): %s", workerCg, out.stdout)
		}
	} else {
		t.Logf("the task has no cgroup here: %s", workerCg)
	}

	// NOMAD_IIS_EXEC_POOL in the task env picks pool b: LocalService is nobody.
	e = newExecSite(t, map[string]string{"NOMAD_IIS_EXEC_POOL": "b"})
	out = e.runExec(t, "/bin/sh", "-c", "id -un; id -u")
	if got := strings.Fields(out.stdout); len(got) != 2 || got[0] != "nobody" || got[1] == "0" {
		t.Fatalf("exec in pool b: %q, want nobody", out.stdout)
	}
}

func TestExecRefusesAnUnknownBinary(t *testing.T) {
	e := newExecSite(t, nil)
	for _, command := range [][]string{{"no-such-command-here"}, {"/nonexistent/tool", "-x"}} {
		out := e.openExec(t, command, false).wait()
		if status.Code(out.err) != codes.InvalidArgument || !strings.Contains(status.Convert(out.err).Message(), command[0]) ||
			!strings.Contains(status.Convert(out.err).Message(), "no executable file") {
			t.Fatalf("exec %q: %+v, want InvalidArgument naming the command", command, out)
		}
	}
	// A pool name the site lacks is refused the same way.
	bad := newExecSite(t, map[string]string{"NOMAD_IIS_EXEC_POOL": "missing"})
	out := bad.openExec(t, []string{"/bin/true"}, false).wait()
	if status.Code(out.err) != codes.InvalidArgument || !strings.Contains(status.Convert(out.err).Message(), "NOMAD_IIS_EXEC_POOL") {
		t.Fatalf("exec with NOMAD_IIS_EXEC_POOL=missing: %+v", out)
	}
}

func TestExecKillsTheCommandWhenTheClientGoesAway(t *testing.T) {
	e := newExecSite(t, nil)
	for _, tty := range []bool{false, true} {
		s := e.openExec(t, []string{"/bin/sh", "-c", "echo pid=$$; exec sleep 600"}, tty)
		var pid int
		for pid == 0 {
			resp, err := s.stream.Recv()
			if err != nil {
				t.Fatalf("tty=%v: before the pid: %v", tty, err)
			}
			if i := strings.Index(string(resp.GetStdout().GetData()), "pid="); i >= 0 {
				pid, _ = strconv.Atoi(strings.TrimSpace(string(resp.GetStdout().GetData())[i+4:]))
			}
		}
		if !pluginhost.PidAlive(pid) {
			t.Fatalf("tty=%v: the command %d is not running", tty, pid)
		}
		s.cancel() // the client goes away
		if left := pluginhost.WaitPidsGone([]int{pid}, 10*time.Second); len(left) > 0 {
			t.Fatalf("tty=%v: the command %d still runs after the client went away", tty, pid)
		}
	}
}

// procStatus is a field of /proc/<pid>/status ("Threads", "VmRSS": kB).
func procStatus(t *testing.T, pid int, field string) int {
	t.Helper()
	n, err := pluginhost.ProcStatus(pid, field)
	if err != nil {
		t.Fatal(err)
	}
	return int(n)
}

// firstOutput reads frames up to the first stdout data.
func (s *execSession) firstOutput(t *testing.T) string {
	t.Helper()
	for {
		resp, err := s.stream.Recv()
		if err != nil {
			t.Fatalf("before the first output: %v", err)
		}
		if data := resp.GetStdout().GetData(); len(data) > 0 {
			return string(data)
		}
	}
}

// Script checks run side by side: their sessions wait on the plugin's one
// watch thread, not on a thread each.
func TestExecManySessionsAddNoThreads(t *testing.T) {
	e := newExecSite(t, nil)
	pid := e.host.Driver().Pid()
	e.runExec(t, "/bin/true") // the exec path has run once
	before := procStatus(t, pid, "Threads")
	const count = 50
	sessions := make([]*execSession, count)
	for i := range sessions {
		sessions[i] = e.openExec(t, []string{"/bin/sh", "-c", "echo up; sleep 2"}, false)
		sessions[i].input(t, "", true)
	}
	for _, s := range sessions {
		if got := s.firstOutput(t); got != "up\n" {
			t.Fatalf("first output %q, want up", got)
		}
	}
	during := procStatus(t, pid, "Threads")
	// gRPC may start a few threads of its own for 50 streams; a thread per session would add 50.
	if during > before+10 {
		t.Fatalf("the plugin has %d threads with %d sessions running, %d before", during, count, before)
	}
	for i, s := range sessions {
		if out := s.wait(); out.err != nil || out.result == nil || out.result.GetExitCode() != 0 {
			t.Fatalf("session %d: %+v", i, out)
		}
	}
	t.Logf("threads: %d before, %d with %d sessions", before, during, count)
}

// A command that floods its output is held by the client's pace: the plugin
// keeps a few chunks in flight, not the output.
func TestExecFloodIsBoundedByTheClient(t *testing.T) {
	e := newExecSite(t, nil)
	pid := e.host.Driver().Pid()
	e.runExec(t, "/bin/true")
	baseline := procStatus(t, pid, "VmRSS")
	const last = 25000000 // seq 1 25000000: 209 MB
	s := e.openExec(t, []string{"/usr/bin/seq", "1", strconv.Itoa(last)}, false)
	s.input(t, "", true)
	peak := baseline
	next, line, frames := 1, []byte{}, 0
	var result *driverpb.ExitResult
	for result == nil {
		resp, err := s.stream.Recv()
		if err != nil {
			t.Fatalf("after %d lines: %v", next-1, err)
		}
		for _, c := range resp.GetStdout().GetData() {
			if c != '\n' {
				line = append(line, c)
				continue
			}
			if string(line) != strconv.Itoa(next) {
				t.Fatalf("line %d is %q", next, line)
			}
			next++
			line = line[:0]
		}
		if resp.GetExited() {
			result = resp.GetResult()
		}
		frames++
		if frames%32 == 0 {
			if rss := procStatus(t, pid, "VmRSS"); rss > peak {
				peak = rss
			}
			time.Sleep(10 * time.Millisecond) // a slow client: the command must wait for it
		}
	}
	if next != last+1 || result.GetExitCode() != 0 {
		t.Fatalf("got %d lines and %+v, want %d and exit code 0", next-1, result, last)
	}
	if grown := peak - baseline; grown > 64*1024 {
		t.Fatalf("the plugin's RSS grew by %d kB (from %d kB) while 209 MB flowed", grown, baseline)
	}
	t.Logf("RSS %d kB before, peak %d kB, %d frames", baseline, peak, frames)
}

// A command that never reads its input holds its client back: the plugin
// reads only a few input frames ahead of the command's pipe, and HTTP/2's
// flow control keeps the rest at the client, so the plugin's memory stays
// flat however much the client tries to send.
func TestExecInputIsBoundedByTheCommand(t *testing.T) {
	e := newExecSite(t, nil)
	pid := e.host.Driver().Pid()
	e.runExec(t, "/bin/true")
	baseline := procStatus(t, pid, "VmRSS")
	s := e.openExec(t, []string{"/bin/sh", "-c", "echo up; exec sleep 600"}, false)
	if first := s.firstOutput(t); first != "up\n" {
		t.Fatalf("first output %q", first)
	}
	const chunks = 512 // 512 MiB offered
	frame := &driverpb.ExecTaskStreamingRequest{
		Stdin: &driverpb.ExecTaskStreamingIOOperation{Data: []byte(strings.Repeat("x", 1<<20))}}
	sent := make(chan int, 1)
	go func() {
		n := 0
		for ; n < chunks; n++ {
			if s.stream.Send(frame) != nil {
				break
			}
		}
		sent <- n
	}()
	time.Sleep(3 * time.Second)
	rss := procStatus(t, pid, "VmRSS")
	s.cancel()
	n := <-sent
	if n == chunks {
		t.Fatalf("the client sent all %d MiB to a command that reads nothing", chunks)
	}
	if grown := rss - baseline; grown > 64*1024 {
		t.Fatalf("the plugin's RSS grew by %d kB (from %d kB) with %d MiB offered", grown, baseline, n)
	}
	t.Logf("RSS %d kB before, %d kB with the input held back; the client got %d MiB out", baseline, rss, n)
}

// StopTask ends the task's exec sessions: the command is killed and the
// client gets its end (128 + SIGKILL), as the task's other processes end.
func TestExecEndsAtStopTask(t *testing.T) {
	e := newExecSite(t, nil)
	s := e.openExec(t, []string{"/bin/sh", "-c", "echo pid=$$; exec sleep 600"}, false)
	first := s.firstOutput(t)
	pid, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(first, "pid=")))
	if err != nil {
		t.Fatalf("first output %q", first)
	}
	if err := e.task.StopWith(ctxTimeout(t, 30*time.Second), 2*time.Second, ""); err != nil {
		t.Fatalf("StopTask: %v", err)
	}
	out := s.wait()
	if out.err != nil || out.result == nil || out.result.GetExitCode() != 137 || out.result.GetSignal() != 9 {
		t.Fatalf("the session at StopTask: %+v, want exit code 137 (signal 9)", out)
	}
	if left := pluginhost.WaitPidsGone([]int{pid}, 10*time.Second); len(left) > 0 {
		t.Fatalf("the command %d outlived StopTask", pid)
	}
}
