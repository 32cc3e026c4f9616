package tests

import (
	"context"
	"net"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"nomad_iis/gen/basepb"
	"nomad_iis/host/pluginhost"
)

// startRaw runs the binary directly (no go-plugin) and kills it by pid at
// the end of the test.
func startRaw(t *testing.T, o pluginhost.RawOptions) *pluginhost.RawProcess {
	t.Helper()
	o.Path = pluginPath(t)
	p, err := pluginhost.StartRaw(o)
	if err != nil {
		t.Fatalf("start %s: %v", o.Path, err)
	}
	t.Cleanup(p.Kill)
	return p
}

func TestHandshakeLineIsFirstStdoutLine(t *testing.T) {
	// A narrow port range of our own: a TCP listener must stay inside it.
	opts := pluginhost.RawOptions{MinPort: 23100, MaxPort: 23199}
	p := startRaw(t, opts)
	line, err := p.FirstLine(10 * time.Second)
	if err != nil {
		t.Fatalf("handshake: %v; stderr:\n%s", err, p.Stderr())
	}
	hs, err := pluginhost.ParseHandshakeLine(line)
	if err != nil {
		t.Fatalf("first stdout line %q: %v", line, err)
	}
	min, max := opts.PortRange()
	if err := hs.Check(min, max); err != nil {
		t.Fatalf("first stdout line %q: %v", line, err)
	}
	if !strings.HasSuffix(line, "|grpc|") {
		t.Errorf("line %q should end in |grpc| (empty certificate field)", line)
	}
	// The plugin listens before it announces the address.
	conn, err := net.DialTimeout(hs.Network, hs.Addr, 2*time.Second)
	if err != nil {
		t.Fatalf("announced %s address %s does not accept connections: %v", hs.Network, hs.Addr, err)
	}
	conn.Close()
	t.Logf("handshake: %s", line)
}

func TestWithoutMagicCookieExitsWithMessage(t *testing.T) {
	p := startRaw(t, pluginhost.RawOptions{OmitCookie: true})
	code, exited := p.Wait(5 * time.Second)
	if !exited {
		t.Fatalf("plugin without %s still runs after 5s", pluginhost.MagicCookieKey)
	}
	if code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
	if line, err := p.FirstLine(100 * time.Millisecond); err == nil {
		t.Errorf("wrote %q to stdout; nothing is expected without the cookie", line)
	}
	msg := strings.TrimSpace(p.Stderr())
	if msg == "" {
		t.Fatal("no message on stderr")
	}
	if !strings.Contains(strings.ToLower(msg), "plugin") {
		t.Errorf("stderr message %q does not explain that this is a plugin", msg)
	}
	t.Logf("stderr: %s", msg)
}

func TestProtocolVersionsWithout2Fail(t *testing.T) {
	for _, versions := range []string{"1", "3,4"} {
		t.Run("raw/"+versions, func(t *testing.T) {
			p := startRaw(t, pluginhost.RawOptions{ProtocolVersions: versions})
			line, err := p.FirstLine(5 * time.Second)
			if err != nil {
				// No handshake: the plugin must have exited with an error.
				code, exited := p.Wait(5 * time.Second)
				if !exited || code == 0 {
					t.Fatalf("no handshake but exited=%v code=%d", exited, code)
				}
				t.Logf("exit %d, stderr: %s", code, strings.TrimSpace(p.Stderr()))
				return
			}
			// A go-plugin server falls back to its own version; the host must
			// then see a version it did not offer.
			hs, err := pluginhost.ParseHandshakeLine(line)
			if err != nil {
				t.Fatalf("handshake %q: %v", line, err)
			}
			for _, v := range strings.Split(versions, ",") {
				if v == strconv.Itoa(hs.App) {
					t.Fatalf("plugin claims app protocol %d, which Nomad does not speak", hs.App)
				}
			}
		})
	}
	t.Run("go-plugin", func(t *testing.T) {
		opts := launchOptions(t)
		opts.ProtocolVersion = 1
		inst, err := pluginhost.Launch(opts, "version-1")
		if err == nil {
			killPidOnCleanup(t, inst.Pid())
			inst.Kill()
			t.Fatal("go-plugin client offering only protocol 1 connected")
		}
		t.Logf("refused as expected: %v", err)
	})
}

// signalSurvives sends sig to a launched plugin and checks that it is still
// alive and serving half a second later.
func signalSurvives(t *testing.T, sig syscall.Signal) {
	inst := launch(t)
	if err := syscall.Kill(inst.Pid(), sig); err != nil {
		t.Fatalf("send %v: %v", sig, err)
	}
	time.Sleep(500 * time.Millisecond)
	if !pluginhost.PidAlive(inst.Pid()) {
		t.Fatalf("plugin died from %v", sig)
	}
	ctx := ctxTimeout(t, 5*time.Second)
	if _, err := inst.Driver().Base.PluginInfo(ctx, &basepb.PluginInfoRequest{}); err != nil {
		t.Fatalf("PluginInfo after %v: %v", sig, err)
	}
}

// The plugin shares the agent's process group, so a Ctrl-C at the agent's
// terminal reaches it too; it must ignore SIGINT.
func TestSIGINTIsIgnored(t *testing.T) { signalSurvives(t, syscall.SIGINT) }

// After an agent crash the plugin's stderr pipe has no reader, and its next
// log line raises SIGPIPE. A plugin that ignores SIGPIPE (SIG_IGN) survives
// both that and this directly sent signal.
func TestSIGPIPEIsIgnored(t *testing.T) { signalSurvives(t, syscall.SIGPIPE) }

func TestTwoInstancesRunAtOnce(t *testing.T) {
	a, b := launch(t), launch(t)
	if a.Pid() == b.Pid() {
		t.Fatal("same pid twice")
	}
	_, addrA := a.Address()
	_, addrB := b.Address()
	if addrA == addrB {
		t.Fatalf("both instances announced %s", addrA)
	}
	ctx := ctxTimeout(t, 5*time.Second)
	for _, inst := range []*pluginhost.Instance{a, b} {
		if _, err := inst.Driver().Base.PluginInfo(ctx, &basepb.PluginInfoRequest{}); err != nil {
			t.Fatalf("PluginInfo on pid %d: %v", inst.Pid(), err)
		}
	}
	for _, inst := range []*pluginhost.Instance{a, b} {
		if k := inst.Kill(); !k.Graceful {
			t.Errorf("pid %d needed SIGKILL after %v", inst.Pid(), k.Elapsed)
		}
	}
}

func TestControllerShutdownExitsWithin2s(t *testing.T) {
	inst := launch(t)
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	// The reply may never arrive (the server may stop inside the handler).
	if err := inst.Driver().ControllerShutdown(ctx); err != nil {
		t.Logf("GRPCController/Shutdown returned %v (tolerated)", err)
	}
	if !inst.WaitExit(2*time.Second - time.Since(start)) {
		t.Fatalf("plugin pid %d still alive 2s after GRPCController/Shutdown", inst.Pid())
	}
	t.Logf("exited %v after Shutdown", time.Since(start).Round(time.Millisecond))
}

func TestGoPluginKillIsGraceful(t *testing.T) {
	inst := launch(t)
	k := inst.Kill()
	if !k.Graceful || k.Hung {
		t.Fatalf("go-plugin Kill: %+v, want a graceful exit within 2s", k)
	}
	if pluginhost.PidAlive(inst.Pid()) {
		t.Fatal("plugin alive after Kill")
	}
}

func TestHealthServiceServing(t *testing.T) {
	inst := launch(t)
	st, err := inst.Driver().Health(ctxTimeout(t, 5*time.Second))
	if err != nil {
		t.Fatalf("grpc.health.v1.Health/Check(plugin): %v", err)
	}
	if st.String() != "SERVING" {
		t.Fatalf("health of service \"plugin\" is %v", st)
	}
}
