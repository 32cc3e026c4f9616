package pluginhost

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseHandshakeLine(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "s")
	good := []string{"1|2|tcp|127.0.0.1:10001|grpc|", "1|2|tcp|127.0.0.1:10001|grpc|\n"}
	for _, line := range good {
		h, err := ParseHandshakeLine(line)
		if err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		if err := h.Check(10000, 25000); err != nil {
			t.Errorf("%q: %v", line, err)
		}
	}
	bad := []string{
		"1|2|tcp|127.0.0.1:9999|grpc|",     // below the range
		"1|2|tcp|0.0.0.0:10001|grpc|",      // not loopback
		"1|3|tcp|127.0.0.1:10001|grpc|",    // app protocol
		"2|2|tcp|127.0.0.1:10001|grpc|",    // core protocol
		"1|2|tcp|127.0.0.1:10001",          // netrpc by omission
		"1|2|unix|unix:" + sock + "|grpc|", // prefixed address
		"1|2|unix|" + sock + "|grpc|",      // no such socket
		"1|2|tcp|127.0.0.1:10001|grpc|" + strings.Repeat("A", 60),
	}
	for _, line := range bad {
		h, err := ParseHandshakeLine(line)
		if err == nil {
			err = h.Check(10000, 25000)
		}
		if err == nil {
			t.Errorf("%q accepted", line)
		}
	}
	if _, err := ParseHandshakeLine("starting up..."); err == nil {
		t.Error("a banner line parsed as handshake")
	}
}

func TestPortEnvCleansLikeNomad(t *testing.T) {
	env := PortEnv([]Port{{Label: "my-db", Value: 15432, HostIP: "127.0.0.2"}, {Label: "http", Value: 8080, To: 80, HostIP: "::1"}})
	want := map[string]string{
		"NOMAD_PORT_my_db":       "15432",
		"NOMAD_HOST_PORT_my_db":  "15432",
		"NOMAD_ALLOC_PORT_my-db": "15432",
		"NOMAD_IP_my_db":         "127.0.0.2",
		"NOMAD_HOST_IP_my-db":    "127.0.0.2",
		"NOMAD_ADDR_my_db":       "127.0.0.2:15432",
		"NOMAD_HOST_ADDR_my-db":  "127.0.0.2:15432",
		"NOMAD_PORT_http":        "80",
		"NOMAD_HOST_PORT_http":   "8080",
		"NOMAD_ADDR_http":        "[::1]:8080",
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("%s = %q, want %q", k, env[k], v)
		}
	}
}

func TestParsePort(t *testing.T) {
	p, err := ParsePort("http=8080")
	if err != nil || p != (Port{Label: "http", Value: 8080, HostIP: "127.0.0.1"}) {
		t.Fatalf("%+v %v", p, err)
	}
	for _, s := range []string{"http", "=1", "x=0", "x=70000", "x=1@nope"} {
		if _, err := ParsePort(s); err == nil {
			t.Errorf("%q accepted", s)
		}
	}
}

func TestNewTaskID(t *testing.T) {
	id := NewTaskID("a1", "web")
	parts := strings.Split(id, "/")
	if len(parts) != 3 || parts[0] != "a1" || parts[1] != "web" || len(parts[2]) != 8 {
		t.Fatalf("task id %q", id)
	}
	if NewTaskID("a1", "web") == id {
		t.Fatal("task ids repeat")
	}
}

func TestLogMonCopiesFifoUntilEOF(t *testing.T) {
	dir := t.TempDir()
	lm, err := StartLogMon(dir, "web")
	if err != nil {
		t.Fatal(err)
	}
	defer lm.Stop()
	if filepath.Base(lm.Stdout.Path) != ".web.stdout.fifo" {
		t.Errorf("fifo path %s", lm.Stdout.Path)
	}
	if st, err := os.Stat(lm.Stdout.Path); err != nil || st.Mode()&os.ModeNamedPipe == 0 || st.Mode().Perm() != 0o600 {
		t.Fatalf("fifo: %v %v", st.Mode(), err)
	}
	w, err := os.OpenFile(lm.Stdout.Path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	w.WriteString("hello\n")
	if lm.Stdout.WaitEOF(100 * time.Millisecond) {
		t.Fatal("EOF while a writer is open")
	}
	w.Close()
	if !lm.Stdout.WaitEOF(2 * time.Second) {
		t.Fatal("no EOF after the writer closed")
	}
	b, _ := os.ReadFile(filepath.Join(dir, "web.stdout.0"))
	if string(b) != "hello\n" {
		t.Fatalf("log file has %q", b)
	}
	// Stop unblocks the stderr reader that never saw a writer.
	done := make(chan struct{})
	go func() { lm.Stop(); close(done) }()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		t.Fatal("Stop hangs on a FIFO nobody opened")
	}
}

func TestFileRotator(t *testing.T) {
	dir := t.TempDir()
	r, err := newFileRotator(dir, "x", 4, 2)
	if err != nil {
		t.Fatal(err)
	}
	r.Write([]byte("aaaabbbbcc"))
	r.Close()
	if _, err := os.Stat(filepath.Join(dir, "x.0")); !os.IsNotExist(err) {
		t.Errorf("x.0 should have been pruned (max 2 files)")
	}
	for name, want := range map[string]string{"x.1": "bbbb", "x.2": "cc"} {
		if b, _ := os.ReadFile(filepath.Join(dir, name)); string(b) != want {
			t.Errorf("%s = %q, want %q", name, b, want)
		}
	}
}

func TestBuildAllocDirLayout(t *testing.T) {
	a, err := BuildAllocDir(filepath.Join(t.TempDir(), "alloc1"))
	if err != nil {
		t.Fatal(err)
	}
	td, err := a.BuildTaskDir("web")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{a.LogDir(), filepath.Join(a.SharedDir(), "data"), filepath.Join(a.SharedDir(), "tmp"),
		td.LocalDir, td.SecretsDir, td.TmpDir, td.PrivateDir} {
		if st, err := os.Stat(d); err != nil || !st.IsDir() {
			t.Errorf("%s: %v", d, err)
		}
	}
	if _, err := a.BuildTaskDir("../x"); err == nil {
		t.Error("task name with a slash accepted")
	}
}
