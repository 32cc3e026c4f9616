package management

import (
	"bytes"
	"image/png"
	"os"
	"testing"
	"time"
)

// TestScreenshot: a PNG of the task's page, decodable, of the asked size.
func TestScreenshot(t *testing.T) {
	if _, err := os.Stat("/usr/bin/chromium"); err != nil {
		t.Skip("chromium is not installed")
	}
	e := startEnv(t, envOptions{})
	a := e.startApp(appOptions{})
	r := get(t, withKey(apiKey), a.api+"/screenshot?path=/index.html&width=800&height=600")
	expect(t, r, 200, "screenshot")
	if r.header.Get("Content-Type") != "image/png" {
		t.Errorf("content type %q", r.header.Get("Content-Type"))
	}
	img, err := png.Decode(bytes.NewReader(r.body))
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() != 800 || b.Dy() != 600 {
		t.Errorf("screenshot is %dx%d, want 800x600", b.Dx(), b.Dy())
	}
	// The page has black text on white: some pixels must be dark.
	dark := 0
	for y := 0; y < 200; y++ {
		for x := 0; x < 400; x++ {
			r, g, b, _ := img.At(x, y).RGBA()
			if r+g+b < 3*0x4000 {
				dark++
			}
		}
	}
	if dark == 0 {
		t.Error("the screenshot is blank: the page was not rendered")
	}
	expect(t, get(t, withKey(apiKey), a.api+"/screenshot?width=huge"), 400, "bad width")
	expect(t, get(t, withKey(apiKey), a.api+"/screenshot?path=//evil.example/"), 400, "URL as path")
	expect(t, get(t, withBearer(jwtFor(a.alloc.ID(), []string{"Status"}, nil)), a.api+"/screenshot"), 403,
		"screenshot without Screenshots")
}

// TestProcdump: an ELF core of the pool's worker; unknown pool 400.
func TestProcdump(t *testing.T) {
	if _, err := os.Stat("/usr/bin/gcore"); err != nil {
		t.Skip("gdb (gcore) is not installed")
	}
	e := startEnv(t, envOptions{})
	a := e.startApp(appOptions{})
	// The OnDemand pool's worker, woken by the first request, is known to the
	// plugin a moment after it answered.
	for deadline := time.Now().Add(5 * time.Second); len(a.status(t).Pools[0].WorkerIDs) == 0; {
		if time.Now().After(deadline) {
			t.Fatal("the pool reports no worker")
		}
		time.Sleep(20 * time.Millisecond)
	}
	r := get(t, withKey(apiKey), a.api+"/procdump")
	expect(t, r, 200, "procdump")
	if len(r.body) < 4 || !bytes.Equal(r.body[:4], []byte("\x7fELF")) {
		t.Fatalf("not an ELF core: %d bytes %q", len(r.body), r.body[:min(16, len(r.body))])
	}
	t.Logf("core dump: %d bytes", len(r.body))
	expect(t, get(t, withKey(apiKey), a.api+"/procdump?appPoolName=nope"), 400, "unknown pool")
	expect(t, get(t, withBearer(jwtFor(a.alloc.ID(), []string{"Status"}, nil)), a.api+"/procdump"), 403,
		"procdump without ProcDump")
	expect(t, call(t, withKey(apiKey), "PUT", a.api+"/stop", nil, ""), 200, "stop")
	expect(t, get(t, withKey(apiKey), a.api+"/procdump"), 409, "procdump of a stopped pool")
}

func min(a, b int) int {
	if a < b {
		return a
	}
	return b
}
