package management

// Screenshots photograph pages the app controls: the browser must run as an
// unprivileged user with its sandbox on and reach nothing but the site.

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// magenta is the colour of everything the canary serves.
var magenta = color.RGBA{0xff, 0x00, 0xff, 0xff}

// canary is an HTTP server on 127.0.0.1 (a stand-in for any local service)
// that counts TCP connections, HTTP requests and UDP datagrams (STUN) on its
// port; it serves a big magenta image and a magenta page.
type canary struct {
	base       string // http://127.0.0.1:PORT
	port       int
	conns, req int64
	udp        int64
}

type countingListener struct {
	net.Listener
	n *int64
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		atomic.AddInt64(l.n, 1)
	}
	return c, err
}

func solidPNG(t *testing.T, w, h int, c color.Color) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, c)
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func startCanary(t *testing.T) *canary {
	t.Helper()
	var ln net.Listener
	var udp *net.UDPConn
	for attempt := 0; udp == nil; attempt++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
		if err != nil {
			l.Close()
			if attempt > 20 {
				t.Fatalf("no port free for both TCP and UDP: %v", err)
			}
			continue
		}
		ln, udp = l, u
	}
	c := &canary{port: ln.Addr().(*net.TCPAddr).Port}
	c.base = fmt.Sprintf("http://127.0.0.1:%d", c.port)
	big := solidPNG(t, 1200, 900, magenta)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		atomic.AddInt64(&c.req, 1)
		w.Header().Set("Access-Control-Allow-Origin", "*")
		if strings.HasSuffix(r.URL.Path, ".png") {
			w.Header().Set("Content-Type", "image/png")
			w.Write(big)
			return
		}
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, `<html><body style="margin:0;background:#ff00ff">canary</body></html>`)
	})}
	go srv.Serve(countingListener{ln, &c.conns})
	go func() {
		buf := make([]byte, 2048)
		for {
			if _, _, err := udp.ReadFrom(buf); err != nil {
				return
			}
			atomic.AddInt64(&c.udp, 1)
		}
	}()
	t.Cleanup(func() {
		srv.Close()
		udp.Close()
	})
	return c
}

func (c *canary) reached() string {
	n, r, u := atomic.LoadInt64(&c.conns), atomic.LoadInt64(&c.req), atomic.LoadInt64(&c.udp)
	if n+r+u == 0 {
		return ""
	}
	return fmt.Sprintf("%d connections, %d HTTP requests, %d UDP datagrams", n, r, u)
}

// vectors are pages that try to reach the canary (%[1]s is its base URL,
// %[2]d its port), one way each.
var vectors = []struct{ name, html string }{
	{"img", `<img src="%[1]s/big.png">`},
	{"img-localhost", `<img src="http://localhost:%[2]d/big.png">`},
	{"iframe", `<iframe src="%[1]s/page.html" style="border:0;width:100%%;height:600px"></iframe>`},
	{"fetch", `<script>fetch("%[1]s/fetch").then(r => r.text()).then(t => document.body.innerHTML = t)</script>`},
	{"xhr", `<script>var x = new XMLHttpRequest(); x.open("GET", "%[1]s/xhr");
	  x.onload = () => document.body.innerHTML = x.responseText; x.send()</script>`},
	{"script-navigation", `<script>location = "%[1]s/page.html"</script>`},
	{"meta-refresh", `<meta http-equiv="refresh" content="0;url=%[1]s/page.html">`},
	{"websocket", `<script>new WebSocket("ws://127.0.0.1:%[2]d/ws")</script>`},
	{"eventsource", `<script>new EventSource("%[1]s/events")</script>`},
	{"css-url", `<style>html { background: url(%[1]s/big.png) }</style>`},
	{"link-prefetch", `<link rel="prefetch" href="%[1]s/prefetch"><link rel="preconnect" href="%[1]s">
	  <link rel="preload" as="image" href="%[1]s/preload.png">`},
	{"form", `<form id="f" method="post" action="%[1]s/form"><input name="a" value="b"></form>
	  <script>document.getElementById("f").submit()</script>`},
	{"beacon", `<script>navigator.sendBeacon("%[1]s/beacon", "x")</script>`},
	{"worker", `<script>new Worker(URL.createObjectURL(new Blob(
	  ['fetch("%[1]s/worker")'], {type: "text/javascript"})))</script>`},
	// STUN over UDP and TURN over TCP; busy.html keeps the page loading while
	// ICE gathers candidates.
	{"webrtc", `<script>var pc = new RTCPeerConnection({iceServers: [
	    {urls: "stun:127.0.0.1:%[2]d"},
	    {urls: "turn:127.0.0.1:%[2]d?transport=tcp", username: "u", credential: "p"}]});
	  pc.createDataChannel("d"); pc.createOffer().then(o => pc.setLocalDescription(o));</script>
	  <iframe src="busy.html"></iframe>`},
}

// writePage writes an HTML page into the site's folder (local/).
func writePage(t *testing.T, a *app, name, body string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(a.localDir(), name), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// screenshotPNG takes a screenshot of `path` and decodes it; it fails the
// test unless the answer is a 200 PNG.
func screenshotPNG(t *testing.T, a *app, path string) image.Image {
	t.Helper()
	r := get(t, withKey(apiKey), a.api+"/screenshot?width=800&height=600&path="+path)
	if r.code != 200 || r.header.Get("Content-Type") != "image/png" {
		t.Errorf("screenshot of %s: %v, want a 200 PNG", path, r)
		return nil
	}
	img, err := png.Decode(bytes.NewReader(r.body))
	if err != nil {
		t.Errorf("screenshot of %s: not a PNG: %v", path, err)
		return nil
	}
	return img
}

func near(c color.Color, want color.RGBA) bool {
	r, g, b, _ := c.RGBA()
	d := func(v uint32, w uint8) bool {
		x := int(v>>8) - int(w)
		return x > -40 && x < 40
	}
	return d(r, want.R) && d(g, want.G) && d(b, want.B)
}

func countColor(img image.Image, want color.RGBA) int {
	n := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if near(img.At(x, y), want) {
				n++
			}
		}
	}
	return n
}

func needChromium(t *testing.T) {
	if _, err := os.Stat("/usr/bin/chromium"); err != nil {
		t.Skip("chromium is not installed")
	}
}

// TestScreenshotReachesOnlyTheSite: a page that tries to reach another
// server on 127.0.0.1 (images, frames, fetch, navigation, meta refresh,
// WebSocket, WebRTC...) still gets its 200 PNG, and the server sees nothing.
func TestScreenshotReachesOnlyTheSite(t *testing.T) {
	needChromium(t)
	e := startEnv(t, envOptions{})
	a := e.startApp(appOptions{})
	writePage(t, a, "busy.html", `<script>var t = Date.now(); while (Date.now() - t < 1500) {}</script>`)
	leaks := 0
	for _, v := range vectors {
		c := startCanary(t)
		page := "vector-" + v.name + ".html"
		writePage(t, a, page, "<html><head></head><body>"+fmt.Sprintf(v.html, c.base, c.port)+
			"<p>vector "+v.name+"</p></body></html>")
		img := screenshotPNG(t, a, "/"+page)
		if img != nil {
			if n := countColor(img, magenta); n > 0 {
				t.Errorf("vector %s: the screenshot shows the other server's content (%d pixels)", v.name, n)
			}
		}
		if got := c.reached(); got != "" {
			leaks++
			t.Errorf("vector %s: the other server on 127.0.0.1 was reached: %s", v.name, got)
		}
	}
	t.Logf("%d of %d vectors reached the other server", leaks, len(vectors))
}

// TestScreenshotLoadsTheSitesOwnResources: the page's own stylesheet,
// script and image (same origin) are in the screenshot.
func TestScreenshotLoadsTheSitesOwnResources(t *testing.T) {
	needChromium(t)
	e := startEnv(t, envOptions{})
	a := e.startApp(appOptions{})
	checkOwnResources(t, a)
}

var (
	green  = color.RGBA{0x00, 0xc0, 0x00, 0xff}
	blue   = color.RGBA{0x00, 0x00, 0xc0, 0xff}
	yellow = color.RGBA{0xff, 0xff, 0x00, 0xff}
)

// checkOwnResources photographs own.html: green background (own.css), a
// yellow square (own.png) at the top left, a blue one (own.js) right of it.
func checkOwnResources(t *testing.T, a *app) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(a.localDir(), "own.png"), solidPNG(t, 20, 20, yellow), 0o644); err != nil {
		t.Fatal(err)
	}
	writePage(t, a, "own.css", `html, body { margin: 0; background: #00c000 }`)
	writePage(t, a, "own.js", `document.addEventListener("DOMContentLoaded", () => {
	  var d = document.createElement("div");
	  d.style.cssText = "position:absolute;left:300px;top:0;width:200px;height:200px;background:#0000c0";
	  document.body.appendChild(d) })`)
	writePage(t, a, "own.html", `<html><head><link rel="stylesheet" href="own.css"><script src="/own.js"></script></head>
	  <body><img src="own.png" style="position:absolute;left:0;top:0;width:200px;height:200px"></body></html>`)
	img := screenshotPNG(t, a, "/own.html")
	if img == nil {
		return
	}
	for _, p := range []struct {
		what string
		x, y int
		want color.RGBA
	}{{"own.css background", 700, 500, green}, {"own.png", 100, 100, yellow}, {"own.js box", 400, 100, blue}} {
		if got := img.At(p.x, p.y); !near(got, p.want) {
			t.Errorf("%s: pixel (%d,%d) is %v, want %v", p.what, p.x, p.y, got, p.want)
		}
	}
}

// TestScreenshotHostnameBinding: a binding with a host name is photographed
// under that name (the page sees it), its own resources load, and the
// other server stays unreached.
func TestScreenshotHostnameBinding(t *testing.T) {
	needChromium(t)
	e := startEnv(t, envOptions{})
	// The first binding (the one photographed) has the host name; the second
	// answers other names so the test harness sees the site serving.
	a := e.startApp(appOptions{configJSON: `{
	  "application_pool": [{"identity": "ApplicationPoolIdentity"}],
	  "application": [{"path": "local"}],
	  "binding": [{"type": "http", "port": "httplabel", "hostname": "shot.example"},
	              {"type": "http", "port": "httplabel"}]}`})
	checkOwnResources(t, a)
	c := startCanary(t)
	writePage(t, a, "named.html", fmt.Sprintf(`<html><body><script>
	  document.documentElement.style.background = location.hostname == "shot.example" ? "#00c000" : "#c00000"
	  </script><img src="%s/big.png"><iframe src="http://127.0.0.1:%d/"></iframe></body></html>`, c.base, c.port))
	if img := screenshotPNG(t, a, "/named.html"); img != nil {
		if got := img.At(700, 500); !near(got, green) {
			t.Errorf("the page was not loaded as http://shot.example (pixel %v)", got)
		}
		if n := countColor(img, magenta); n > 0 {
			t.Errorf("the screenshot shows the other server's content (%d pixels)", n)
		}
	}
	if got := c.reached(); got != "" {
		t.Errorf("the other server on 127.0.0.1 was reached: %s", got)
	}
}

// TestScreenshotHttpsOnlySite: a site whose only binding is https with a
// self-signed certificate is photographed over https (the page sees
// https:), its own resources load, and the other server stays unreached.
func TestScreenshotHttpsOnlySite(t *testing.T) {
	needChromium(t)
	e := startEnv(t, envOptions{})
	a := e.startApp(appOptions{https: true, configJSON: `{
	  "application_pool": [{"identity": "ApplicationPoolIdentity"}],
	  "application": [{"path": "local"}],
	  "binding": [{"type": "https", "port": "httplabel", "certificate": [{"use_self_signed": true}]}]}`})
	checkOwnResources(t, a)
	c := startCanary(t)
	writePage(t, a, "tls.html", fmt.Sprintf(`<html><body><script>
	  document.documentElement.style.background = location.protocol == "https:" ? "#00c000" : "#c00000"
	  </script><img src="%s/big.png"></body></html>`, c.base))
	if img := screenshotPNG(t, a, "/tls.html"); img != nil {
		if got := img.At(700, 500); !near(got, green) {
			t.Errorf("the page was not loaded over https (pixel %v)", got)
		}
		if n := countColor(img, magenta); n > 0 {
			t.Errorf("the screenshot shows the other server's content (%d pixels)", n)
		}
	}
	if got := c.reached(); got != "" {
		t.Errorf("the other server on 127.0.0.1 was reached: %s", got)
	}
}

// browserProc is one process of a running browser.
type browserProc struct {
	pid, uid int
	cmdline  string
	userNS   string
}

// statSession is field 6 (session id) of /proc/PID/stat.
func statSession(pid string) int {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return -1
	}
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 4 {
		return -1
	}
	sid, _ := strconv.Atoi(fields[3])
	return sid
}

func statusUID(pid string) int {
	b, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 3 && f[0] == "Uid:" {
			uid, _ := strconv.Atoi(f[2]) // effective
			return uid
		}
	}
	return -1
}

// screenshotBrowsers lists the processes of running screenshot browsers:
// every process in the session of one whose command line names a
// nomad-iis-shot- profile.
func screenshotBrowsers() []browserProc {
	entries, _ := os.ReadDir("/proc")
	type proc struct {
		pid, sid int
		cmd      string
	}
	var all []proc
	sessions := map[int]bool{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil || len(b) == 0 {
			continue
		}
		p := proc{pid, statSession(e.Name()), strings.ReplaceAll(string(b), "\x00", " ")}
		all = append(all, p)
		if strings.Contains(p.cmd, "--user-data-dir=") && strings.Contains(p.cmd, "nomad-iis-shot-") {
			sessions[p.sid] = true
		}
	}
	var out []browserProc
	for _, p := range all {
		if !sessions[p.sid] {
			continue
		}
		// A process that ends between these reads is left out: its uid and
		// namespace are gone, not wrong.
		ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/user", p.pid))
		uid := statusUID(strconv.Itoa(p.pid))
		if err != nil || uid < 0 {
			continue
		}
		out = append(out, browserProc{p.pid, uid, p.cmd, ns})
	}
	return out
}

// profileDir is the --user-data-dir of a browser command line.
func profileDir(cmd string) string {
	for _, f := range strings.Fields(cmd) {
		if strings.HasPrefix(f, "--user-data-dir=") {
			return strings.TrimPrefix(f, "--user-data-dir=")
		}
	}
	return ""
}

// TestScreenshotBrowserIsUnprivileged: while a slow page loads, the
// browser's processes run as the plugin's browser user (not root), without
// --no-sandbox, its renderers in a user namespace of their own (Chromium's
// sandbox), its profile private to it; afterwards nothing of it is left.
func TestScreenshotBrowserIsUnprivileged(t *testing.T) {
	needChromium(t)
	e := startEnv(t, envOptions{})
	a := e.startApp(appOptions{})
	writePage(t, a, "slow.html", `<html><body>slow<script>
	  var t = Date.now(); while (Date.now() - t < 4000) {}</script></body></html>`)
	var wg sync.WaitGroup
	var r apiResponse
	var done int32
	wg.Add(1)
	go func() {
		defer wg.Done()
		r = get(t, withKey(apiKey), a.api+"/screenshot?path=/slow.html")
		atomic.StoreInt32(&done, 1)
	}()
	seen := map[int]browserProc{}
	profile := ""
	var profileInfo os.FileInfo
	for atomic.LoadInt32(&done) == 0 {
		for _, p := range screenshotBrowsers() {
			seen[p.pid] = p
			if d := profileDir(p.cmdline); d != "" && profileInfo == nil {
				if fi, err := os.Stat(filepath.Dir(d)); err == nil {
					profile, profileInfo = d, fi
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	wg.Wait()
	expect(t, r, 200, "screenshot of a slow page")
	if len(seen) == 0 {
		t.Fatal("no browser process was seen while the screenshot ran")
	}
	self, _ := os.Readlink("/proc/self/ns/user")
	want := -1
	if u, err := user.Lookup("nomad-iis-browser"); err == nil {
		want, _ = strconv.Atoi(u.Uid)
	}
	sandboxed, renderers := 0, 0
	for _, p := range seen {
		if p.uid == 0 || p.uid != want {
			t.Errorf("browser process %d runs as uid %d, want %d (nomad-iis-browser): %.200s", p.pid, p.uid, want, p.cmdline)
		}
		if strings.Contains(p.cmdline, "--no-sandbox") {
			t.Errorf("browser process %d runs with --no-sandbox: %.200s", p.pid, p.cmdline)
		}
		if strings.Contains(p.cmdline, "--type=renderer") {
			renderers++
			if p.userNS != "" && p.userNS != self {
				sandboxed++
			}
		}
	}
	if renderers == 0 || sandboxed != renderers {
		t.Errorf("%d of %d renderers run in a user namespace of their own (Chromium's sandbox)", sandboxed, renderers)
	}
	t.Logf("%d browser processes seen, %d renderers, all sandboxed: %v", len(seen), renderers, sandboxed == renderers)
	if profileInfo == nil {
		t.Error("the browser's profile directory was not seen")
	} else {
		st := profileInfo.Sys().(*syscall.Stat_t)
		if int(st.Uid) != want || profileInfo.Mode().Perm() != 0o700 {
			t.Errorf("the browser's home %s is uid %d mode %v, want uid %d mode 0700",
				filepath.Dir(profile), st.Uid, profileInfo.Mode().Perm(), want)
		}
	}
	// Nothing of the browser is left: no process, no directory.
	for deadline := time.Now().Add(5 * time.Second); len(screenshotBrowsers()) > 0; {
		if time.Now().After(deadline) {
			t.Errorf("browser processes left after the screenshot: %v", screenshotBrowsers())
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if profile != "" {
		top := filepath.Dir(filepath.Dir(profile))
		if !strings.Contains(top, "nomad-iis-shot-") {
			top = filepath.Dir(profile)
		}
		if _, err := os.Lstat(top); !os.IsNotExist(err) {
			t.Errorf("the browser's directory %s is left: %v", top, err)
		}
	}
}

// TestScreenshotTimeoutAndMissingBrowser: a page that never finishes
// loading answers 504 within the time limit and leaves no browser behind; a
// missing browser answers 503.
func TestScreenshotTimeoutAndMissingBrowser(t *testing.T) {
	needChromium(t)
	e := startEnv(t, envOptions{config: map[string]interface{}{"screenshot_timeout": "3s"}})
	a := e.startApp(appOptions{})
	writePage(t, a, "endless.html", `<html><body><script>while (true) {}</script></body></html>`)
	expect(t, get(t, withKey(apiKey), a.api+"/screenshot?path=/endless.html"), 504, "endless page")
	for deadline := time.Now().Add(5 * time.Second); len(screenshotBrowsers()) > 0; {
		if time.Now().After(deadline) {
			t.Errorf("browser processes left after the timeout: %v", screenshotBrowsers())
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	e2 := startEnv(t, envOptions{config: map[string]interface{}{"chromium_path": "/nonexistent/chromium"}})
	a2 := e2.startApp(appOptions{})
	r := get(t, withKey(apiKey), a2.api+"/screenshot")
	expect(t, r, 503, "no browser")
	if r.errorCode() != "screenshots_unavailable" {
		t.Errorf("no browser: error %q, want screenshots_unavailable", r.errorCode())
	}
}
