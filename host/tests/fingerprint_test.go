package tests

import (
	"testing"
	"time"

	"nomad_iis/gen/driverpb"
	"nomad_iis/gen/pstructs"
	"nomad_iis/host/pluginhost"
)

func TestFirstFingerprintIsImmediateAndHealthy(t *testing.T) {
	h := startHost(t, nil)
	// A fresh stream of our own, timed from the open.
	ctx := ctxTimeout(t, 10*time.Second)
	start := time.Now()
	stream, err := h.Client().Driver.Fingerprint(ctx, &driverpb.FingerprintRequest{})
	if err != nil {
		t.Fatalf("Fingerprint: %v", err)
	}
	fp, err := stream.Recv()
	if err != nil {
		t.Fatalf("first fingerprint: %v", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("first fingerprint took %v, want < 2s", took)
	}
	if fp.GetHealth() != driverpb.FingerprintResponse_HEALTHY {
		t.Errorf("health %v (%q), want HEALTHY", fp.GetHealth(), fp.GetHealthDescription())
	}
	if fp.GetErr() != "" {
		t.Errorf("err %q", fp.GetErr())
	}
	attrs := fp.GetAttributes()
	t.Logf("attributes: %v", pluginhost.FormatAttributes(attrs))
	wantString(t, attrs, "driver.iis.version")
	wantString(t, attrs, "driver.iis.nginx_version")
	if a, ok := attrs["driver.iis.directory_security_enabled"]; !ok {
		t.Error("missing driver.iis.directory_security_enabled")
	} else if _, isBool := a.GetValue().(*pstructs.Attribute_BoolVal); !isBool {
		t.Errorf("driver.iis.directory_security_enabled is %v, want a bool", a)
	}

	// The host's own stream (opened at dispense) got one too.
	if _, err := h.Driver().Fingerprints.Next(ctxTimeout(t, 2*time.Second), 0); err != nil {
		t.Errorf("driver manager's Fingerprint stream: %v", err)
	}
}

func wantString(t *testing.T, attrs map[string]*pstructs.Attribute, key string) {
	t.Helper()
	a, ok := attrs[key]
	if !ok {
		t.Errorf("missing attribute %s", key)
		return
	}
	if a.GetStringVal() == "" {
		t.Errorf("%s = %v, want a non-empty string", key, a)
	}
}

func TestFingerprintAndTaskEventsStreamsStayOpen(t *testing.T) {
	h := startHost(t, nil)
	drv := h.Driver()
	if _, err := drv.Fingerprints.Next(ctxTimeout(t, 5*time.Second), 0); err != nil {
		t.Fatalf("first fingerprint: %v", err)
	}
	time.Sleep(3 * time.Second)
	if n, err := drv.Fingerprints.Ends(); n != 0 {
		t.Errorf("Fingerprint stream ended %d times (last: %v); it must stay open", n, err)
	}
	if n, err := drv.Events.Ends(); n != 0 {
		t.Errorf("TaskEvents stream ended %d times (last: %v); it must stay open", n, err)
	}
	if !pluginhost.PidAlive(drv.Pid()) {
		t.Fatal("plugin died")
	}
}

func TestAgentShutdownIsGraceful(t *testing.T) {
	h := startHost(t, nil)
	pid := h.Driver().Pid()
	k := h.Shutdown()
	if !k.Graceful {
		t.Fatalf("Driver/Shutdown + go-plugin Kill needed SIGKILL (took %v)", k.Elapsed)
	}
	if pluginhost.PidAlive(pid) {
		t.Fatal("plugin alive after shutdown")
	}
}
