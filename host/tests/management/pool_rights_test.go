package management

import (
	"bytes"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// asPool runs a shell command as the pool's user; its error, nil on success.
func asPool(uid, gid int, script string) error {
	cmd := exec.Command("/bin/sh", "-c", script)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%v: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

// TestPoolKeepsItsRightsOnReplacedFolders: directory security gives the
// pool's user its rights on local/ as ACL entries (Nomad's folders are closed
// to other users); a folder the API replaces or empties keeps them, and what
// an upload creates in it inherits them, so the app still reads and writes
// its folder and the site still serves.
func TestPoolKeepsItsRightsOnReplacedFolders(t *testing.T) {
	e := startEnv(t, envOptions{config: map[string]interface{}{"directory_security": true}})
	a := e.startApp(appOptions{})
	uid, gid := poolUser(t, a)
	key := withKey(apiKey)
	local := a.localDir()
	canUse := func(step string) {
		t.Helper()
		for _, script := range []string{
			"ls " + local,
			"echo x > " + filepath.Join(local, "written-by-app.txt"),
			"cat " + filepath.Join(local, "index.html"),
		} {
			if err := asPool(uid, gid, script); err != nil {
				t.Errorf("after %s, as the pool's user: %s: %v", step, script, err)
			}
		}
		if code, body := fetchSite(a.siteURL); code != 200 || !strings.Contains(body, "v") {
			t.Errorf("after %s nginx serves %d %q", step, code, body)
		}
	}
	canUse("the start")
	z := makeZip(t, []zipEntry{{name: "index.html", data: []byte("<h1>v2</h1>")}, {name: "css/site.css", data: []byte("body{}")}})
	expect(t, call(t, key, "PUT", a.api+"/fs/local?clean=true", bytes.NewReader(z), "application/zip"), 200, "PUT clean")
	canUse("PUT ?clean=true of local/")
	if err := asPool(uid, gid, "echo x > "+filepath.Join(local, "css", "new.css")); err != nil {
		t.Errorf("a folder the upload made does not let the pool write: %v", err)
	}
	z = makeZip(t, []zipEntry{{name: "index.html", data: []byte("<h1>v3</h1>")}})
	expect(t, call(t, key, "PATCH", a.api+"/fs/local", bytes.NewReader(z), "application/zip"), 200, "PATCH")
	canUse("PATCH of local/")
	expect(t, call(t, key, "DELETE", a.api+"/fs/local/*", nil, ""), 200, "DELETE local/*")
	expect(t, call(t, key, "PUT", a.api+"/fs/local/index.html", strings.NewReader("v4"), "text/html"), 200, "PUT file")
	canUse("emptying local/ and a new index.html")
}
