package management

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The flipper: this test binary re-executed as the pool's Unix user. It
// swaps local/race (a folder) and local/race-alt (a symlink to a folder
// outside the task) with renameat2(RENAME_EXCHANGE) in a tight loop, as a
// hostile app can, and keeps the folder's files in place through its own
// descriptor of it (so it never writes through the link).
const flipperEnv = "NIIS_RACE_FLIPPER"

func TestMain(m *testing.M) {
	if dir := os.Getenv(flipperEnv); dir != "" {
		os.Exit(runFlipper(dir))
	}
	os.Exit(m.Run())
}

func runFlipper(local string) int {
	parent, err := unix.Open(local, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW, 0)
	if err != nil {
		fmt.Fprintln(os.Stderr, "flipper: open local:", err)
		return 2
	}
	race, err := unix.Openat(parent, "race", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW, 0)
	if err != nil {
		fmt.Fprintln(os.Stderr, "flipper: open race:", err)
		return 2
	}
	for i := 0; ; i++ {
		if err := unix.Renameat2(parent, "race", parent, "race-alt", unix.RENAME_EXCHANGE); err != nil {
			fmt.Fprintln(os.Stderr, "flipper: renameat2:", err)
			return 3
		}
		if i%64 == 0 {
			refill(race)
		}
	}
}

// refill recreates what the API's operations delete or replace, below the
// folder's own descriptor (never through a name that might be the link).
func refill(race int) {
	for _, f := range []string{"f.txt", "victim.txt"} {
		if fd, err := unix.Openat(race, f, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW, 0o644); err == nil {
			unix.Write(fd, []byte("inside "+f))
			unix.Close(fd)
		}
	}
	unix.Mkdirat(race, "sub", 0o755)
	if sub, err := unix.Openat(race, "sub", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW, 0); err == nil {
		if fd, err := unix.Openat(sub, "x", unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW, 0o644); err == nil {
			unix.Write(fd, []byte("inside x"))
			unix.Close(fd)
		}
		unix.Close(sub)
	}
}

// poolUser is the uid/gid a worker of the task's default pool runs as.
func poolUser(t *testing.T, a *app) (int, int) {
	t.Helper()
	fetchSite(a.siteURL) // an OnDemand pool starts a worker on its first request
	deadline := time.Now().Add(10 * time.Second)
	for {
		s := a.status(t)
		if s.Default != nil && len(s.Default.WorkerIDs) > 0 {
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.Default.WorkerIDs[0]))
			if err == nil {
				var uid, gid int = -1, -1
				for _, line := range strings.Split(string(b), "\n") {
					f := strings.Fields(line)
					if len(f) >= 3 && f[0] == "Uid:" {
						uid, _ = strconv.Atoi(f[2]) // effective
					}
					if len(f) >= 3 && f[0] == "Gid:" {
						gid, _ = strconv.Atoi(f[2])
					}
				}
				if uid > 0 && gid >= 0 {
					return uid, gid
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no worker of the default pool to learn its user from: %+v", s.Default)
		}
		fetchSite(a.siteURL)
		time.Sleep(100 * time.Millisecond)
	}
}

// ownedSnapshot maps every entry below dir to its type, mode, owner and
// content (a link to its target).
func ownedSnapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			out[p] = "error " + err.Error()
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		st := info.Sys().(*syscall.Stat_t)
		v := fmt.Sprintf("%v uid=%d gid=%d", info.Mode(), st.Uid, st.Gid)
		switch {
		case info.Mode()&os.ModeSymlink != 0:
			l, _ := os.Readlink(p)
			v += " ->" + l
		case info.Mode().IsRegular():
			b, _ := os.ReadFile(p)
			v += " " + string(b)
		}
		out[rel] = v
		return nil
	})
	return out
}

func diffTrees(before, after map[string]string) []string {
	var d []string
	for k, v := range before {
		if w, ok := after[k]; !ok {
			d = append(d, "removed "+k)
		} else if w != v {
			d = append(d, fmt.Sprintf("changed %s: %q -> %q", k, v, w))
		}
	}
	for k := range after {
		if _, ok := before[k]; !ok {
			d = append(d, "added "+k)
		}
	}
	sort.Strings(d)
	return d
}

// tryCall is call without t: a cut response (a download that failed
// mid-stream) is code 0 with what arrived.
func tryCall(a auth, method, url string, body io.Reader, contentType string) apiResponse {
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		return apiResponse{}
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	a(req)
	resp, err := apiClient.Do(req)
	if err != nil {
		return apiResponse{}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return apiResponse{body: b}
	}
	return apiResponse{code: resp.StatusCode, body: b, header: resp.Header}
}

// leaks reports whether a response carries content of the outside folder:
// the marker in a file body, or in any entry (name or content) of a zip.
func leaks(body []byte, marker string) bool {
	if bytes.Contains(body, []byte(marker)) || bytes.Contains(body, []byte("outside-only")) {
		return true // a file's content, or a name in a zip's local header (also of a cut zip)
	}
	zr, err := zip.NewReader(bytes.NewReader(body), int64(len(body)))
	if err != nil {
		return false
	}
	for _, f := range zr.File {
		if strings.Contains(f.Name, "outside-only") {
			return true
		}
		if rc, err := f.Open(); err == nil {
			b, _ := io.ReadAll(rc)
			rc.Close()
			if bytes.Contains(b, []byte(marker)) {
				return true
			}
		}
	}
	return false
}

// TestPathRacesStayInside: while the app swaps a folder of local/ with a
// symlink to a root-owned folder outside the task, hundreds of downloads,
// deletes and uploads through that folder neither read, change nor leave
// anything outside the task.
func TestPathRacesStayInside(t *testing.T) {
	e := startEnv(t, envOptions{config: map[string]interface{}{"directory_security": true}})
	a := e.startApp(appOptions{})
	uid, gid := poolUser(t, a)
	t.Logf("the pool runs as uid %d gid %d", uid, gid)

	marker := fmt.Sprintf("OUTSIDE-MARKER-%d", rand.Int63())
	outside := filepath.Join(e.dir, "outside")
	for _, d := range []string{"", "sub", "sub/deeper"} {
		if err := os.MkdirAll(filepath.Join(outside, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, mode := range map[string]os.FileMode{"f.txt": 0o600, "victim.txt": 0o600, "outside-only.txt": 0o600,
		"sub/x": 0o600, "sub/deeper/y": 0o644} {
		if err := os.WriteFile(filepath.Join(outside, name), []byte(marker+" "+name), mode); err != nil {
			t.Fatal(err)
		}
	}
	before := ownedSnapshot(t, outside)

	local := a.localDir()
	race := filepath.Join(local, "race")
	for _, d := range []string{race, filepath.Join(race, "sub")} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"f.txt", "victim.txt", "sub/x"} {
		if err := os.WriteFile(filepath.Join(race, f), []byte("inside "+f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{race, filepath.Join(race, "sub"), filepath.Join(race, "f.txt"),
		filepath.Join(race, "victim.txt"), filepath.Join(race, "sub", "x")} {
		if err := os.Lchown(p, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(outside, filepath.Join(local, "race-alt")); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(local); err == nil {
		if s := st.Sys().(*syscall.Stat_t); int(s.Uid) != uid {
			t.Logf("note: local/ is owned by uid %d, not by the pool's user", s.Uid)
		}
	}

	// The flipper is this binary, copied where the pool's user may run it.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(e.dir, "flipper")
	data, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^$")
	cmd.Dir = "/"
	cmd.Env = []string{flipperEnv + "=" + local}
	var flipLog syncBuffer
	cmd.Stderr = &flipLog
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		syscall.Kill(pid, syscall.SIGKILL)
		cmd.Wait()
	}
	t.Cleanup(stop)
	// It flips: the name is a folder at one look and a link at another.
	// Time-bound, not count-bound: on a loaded machine the flipper may take
	// a while to start.
	sawDir, sawLink := false, false
	for until := time.Now().Add(10 * time.Second); time.Now().Before(until) && !(sawDir && sawLink); {
		if st, err := os.Lstat(race); err == nil {
			sawDir = sawDir || st.IsDir()
			sawLink = sawLink || st.Mode()&os.ModeSymlink != 0
		}
	}
	if !sawDir || !sawLink {
		stop()
		t.Fatalf("the flipper does not flip (dir %v, link %v): %s", sawDir, sawLink, flipLog.String())
	}

	rounds := 200
	if v, err := strconv.Atoi(os.Getenv("NIIS_RACE_ROUNDS")); err == nil && v > 0 {
		rounds = v
	}
	key := withKey(apiKey)
	bearer := withBearer(jwtFor(a.alloc.ID(), []string{"FilesystemAccess"}, nil))
	zipBody := makeZip(t, []zipEntry{{name: "x", data: []byte("uploaded x")}, {name: "new.txt", data: []byte("uploaded")}})
	type op struct {
		kind, method, path, ctype string
		body                      []byte
		who                       auth
	}
	var ops []op
	for i := 0; i < rounds; i++ {
		who := key
		if i%2 == 1 {
			who = bearer
		}
		ops = append(ops,
			op{"GET file", "GET", "local/race/f.txt", "", nil, who},
			op{"GET folder", "GET", "local/race", "", nil, who},
			op{"DELETE file", "DELETE", "local/race/victim.txt", "", nil, who},
			op{"DELETE dir/*", "DELETE", "local/race/sub/*", "", nil, who},
			op{"PUT zip", "PUT", "local/race/sub", "application/zip", zipBody, who},
			op{"PUT zip clean", "PUT", "local/race/sub?clean=true", "application/zip", zipBody, who},
			op{"PATCH zip", "PATCH", "local/race/sub", "application/zip", zipBody, who},
			op{"PUT file", "PUT", "local/race/f.txt", "text/plain", []byte("uploaded f"), who})
	}
	rand.Shuffle(len(ops), func(i, j int) { ops[i], ops[j] = ops[j], ops[i] })

	var mu sync.Mutex
	codes := map[string]map[int]int{}
	escapes := map[string]int{}
	work := make(chan op)
	var wg sync.WaitGroup
	for w := 0; w < 6; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for o := range work {
				var body io.Reader
				if o.body != nil {
					body = bytes.NewReader(o.body)
				}
				r := tryCall(o.who, o.method, a.api+"/fs/"+o.path, body, o.ctype)
				mu.Lock()
				if codes[o.kind] == nil {
					codes[o.kind] = map[int]int{}
				}
				codes[o.kind][r.code]++
				if leaks(r.body, marker) {
					escapes[o.kind]++
				}
				mu.Unlock()
			}
		}()
	}
	for _, o := range ops {
		work <- o
	}
	close(work)
	wg.Wait()
	stop()
	if st, err := os.Lstat(race); err == nil && st.Mode()&os.ModeSymlink != 0 {
		os.Rename(race, race+"-tmp") // put the folder back under its name for the checks below
		os.Rename(filepath.Join(local, "race-alt"), race)
		os.Rename(race+"-tmp", filepath.Join(local, "race-alt"))
	}

	// Uploads remove what they replaced just after answering: give them a moment.
	deadline := time.Now().Add(5 * time.Second)
	var changed []string
	for {
		changed = diffTrees(before, ownedSnapshot(t, outside))
		if len(changed) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	total := 0
	for kind, n := range escapes {
		total += n
		t.Errorf("%s: %d of %d responses carried content from outside the task", kind, n, rounds)
	}
	for _, kind := range []string{"GET file", "GET folder", "DELETE file", "DELETE dir/*", "PUT zip", "PUT zip clean", "PATCH zip", "PUT file"} {
		t.Logf("%-14s codes %v, escapes %d/%d", kind, codes[kind], escapes[kind], rounds)
		if codes[kind][200] == 0 {
			t.Errorf("%s never succeeded (%v): the race test did not exercise it", kind, codes[kind])
		}
	}
	if len(changed) > 0 {
		t.Errorf("the folder outside the task changed (%d differences):\n%s", len(changed), strings.Join(changed, "\n"))
	}
	t.Logf("escapes: %d responses with outside content, %d changes outside", total, len(changed))
	noStaging(t, e.dir)
	if s := a.status(t); s.Default.Status != "Started" {
		t.Errorf("pool %s after the race", s.Default.Status)
	}
}
