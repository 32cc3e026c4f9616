package tests

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"nomad_iis/host/pluginhost"
)

// Isolation between tasks on one node (the plugin runs as root): a job may
// not name another task's folders, and each ApplicationPoolIdentity pool
// runs as a Unix user of its own that cannot write another task's files.

// poolUserName is iis/unix_users.hpp's pool_user_name.
func poolUserName(allocID, task, pool string) string {
	sum := sha256.Sum256([]byte(allocID + "\n" + task + "\n" + pool))
	return "iis-" + hex.EncodeToString(sum[:6])
}

// fileState is what the driver must never change on a folder it was refused.
func fileState(t *testing.T, path string) string {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Lstat(path, &st); err != nil {
		t.Fatal(err)
	}
	acl := "none"
	buf := make([]byte, 256)
	if n, err := syscall.Getxattr(path, "system.posix_acl_access", buf); err == nil {
		acl = hex.EncodeToString(buf[:n])
	}
	return fmt.Sprintf("mode=%o uid=%d gid=%d acl=%s", st.Mode, st.Uid, st.Gid, acl)
}

// runAs runs a shell command as uid/gid; its error (nil on success).
func runAs(uid, gid uint32, script string) error {
	cmd := exec.Command("/bin/sh", "-c", script)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: gid}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%v: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

func TestPathsOfOtherTasksAreRefusedBeforeAnythingChanges(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (the driver changes rights only as root)")
	}
	e := newSiteEnv(t, `{"application": [{"path": "local"}], "binding": [{"type": "http", "port": "httplabel"}]}`)
	allocRoot := filepath.Dir(e.task.Dir().Dir)
	side := filepath.Join(allocRoot, "side", "secrets")
	if err := os.MkdirAll(side, 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(side, "key.pem"), "side's key")
	os.Chmod(filepath.Join(side, "key.pem"), 0o600)
	watched := []string{side, filepath.Join(side, "key.pem"), e.task.Dir().Dir,
		e.task.Dir().PrivateDir, e.task.Dir().SecretsDir}
	before := map[string]string{}
	for _, p := range watched {
		before[p] = fileState(t, p)
	}
	cases := []struct{ config, field, why string }{
		{`{"application": [{"path": "local", "virtual_directory": [{"alias": "keys", "path": "../side/secrets"}]}]}`,
			"application[0].virtual_directory[0].path", `another task ("side")`},
		{`{"application": [{"path": "../side/secrets"}]}`, "application[0].path", `another task ("side")`},
		{`{"application": [{"path": "private"}]}`, "application[0].path", "private/"},
		{`{"application": [{"path": "."}]}`, "application[0].path", "task directory itself"},
		{`{"application": [{"path": "/etc"}]}`, "application[0].path", "allowed_host_paths"},
	}
	for i, c := range cases {
		name := fmt.Sprintf("bad%d", i)
		task, err := e.alloc.NewTask(pluginhost.TaskSpec{Name: name, Config: []byte(c.config)})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, err = task.Start(ctx)
		cancel()
		if err == nil {
			t.Errorf("%s: StartTask accepted %s", name, c.config)
			ctx := ctxTimeout(t, 30*time.Second)
			_ = task.StopWith(ctx, time.Second, "")
			_ = task.Destroy(ctx, true)
			continue
		}
		if !strings.Contains(err.Error(), c.field) || !strings.Contains(err.Error(), c.why) {
			t.Errorf("%s: the error %q does not name %s (%s)", name, err, c.field, c.why)
		}
		if _, err := user.Lookup(poolUserName(e.alloc.ID(), name, "default")); err == nil {
			t.Errorf("%s: a Unix user was created for a refused task", name)
		}
	}
	for _, p := range watched {
		if got := fileState(t, p); got != before[p] {
			t.Errorf("%s changed: %s -> %s", p, before[p], got)
		}
	}
}

func TestEachTaskRunsAsItsOwnUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (pools run as other users only when the plugin is root)")
	}
	const config = `{
  "application_pool": [{"name": "default", "start_mode": "AlwaysRunning"}],
  "application": [{"path": "local"}],
  "binding": [{"type": "http", "port": "httplabel"}]
}`
	a, b := newSiteEnv(t, config), newSiteEnv(t, config)
	writeFile(t, filepath.Join(a.task.Dir().LocalDir, "index.html"), "site a")
	writeFile(t, filepath.Join(b.task.Dir().LocalDir, "index.html"), "site b")
	a.start(t)
	b.start(t)
	accounts := map[*siteEnv]*user.User{}
	for env, want := range map[*siteEnv]string{a: "site a", b: "site b"} {
		if code, body, err := getEventually(env.url("/"), 10*time.Second); err != nil || code != 200 || body != want {
			t.Fatalf("GET /: %d %q %v", code, body, err)
		}
		name := poolUserName(env.alloc.ID(), "app", "default")
		account, err := user.Lookup(name)
		if err != nil {
			t.Fatalf("the pool's user %s: %v", name, err)
		}
		accounts[env] = account
		pool := env.pools(t)["default"]
		if len(pool.WorkerProcessIds) == 0 {
			t.Fatalf("no worker: %+v", pool)
		}
		status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pool.WorkerProcessIds[0]))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(status), "\nUid:\t"+account.Uid+"\t") {
			t.Errorf("worker %d does not run as %s (%s)", pool.WorkerProcessIds[0], name, account.Uid)
		}
	}
	if accounts[a].Uid == accounts[b].Uid || accounts[a].Username == "www-data" {
		t.Fatalf("both tasks run as %s/%s", accounts[a].Username, accounts[b].Username)
	}
	uid, _ := strconv.Atoi(accounts[a].Uid)
	gid, _ := strconv.Atoi(accounts[a].Gid)
	own, other := a.task.Dir(), b.task.Dir()
	// Task a's user writes its own local/ and tmp/ ...
	for _, script := range []string{
		"echo x > " + own.LocalDir + "/new.txt",
		"echo x >> " + own.LocalDir + "/index.html",
		"echo x > " + own.TmpDir + "/new.txt",
	} {
		if err := runAs(uint32(uid), uint32(gid), script); err != nil {
			t.Errorf("as %s: %s: %v", accounts[a].Username, script, err)
		}
	}
	// ... but nothing of task b's: not its site's files, nor the entries of
	// its folders (Nomad makes the task dir, local/ and tmp/ 0777).
	for _, script := range []string{
		"echo evil >> " + other.LocalDir + "/index.html",
		"echo evil > " + other.LocalDir + "/index.html",
		"cat " + other.LocalDir + "/index.html",
		"ls " + other.LocalDir,
		"echo evil > " + other.LocalDir + "/evil.html",
		"mv " + other.LocalDir + "/index.html " + other.LocalDir + "/moved.html",
		"rm -f " + other.LocalDir + "/index.html && test ! -e " + other.LocalDir + "/index.html",
		"mv " + other.LocalDir + " " + other.Dir + "/local.old",
		"echo evil > " + other.TmpDir + "/evil.txt",
		"ls " + other.Dir,
	} {
		if err := runAs(uint32(uid), uint32(gid), script); err == nil {
			t.Errorf("as %s: %s succeeded", accounts[a].Username, script)
		}
	}
	if code, body, _ := getEventually(b.url("/"), 5*time.Second); code != 200 || body != "site b" {
		t.Errorf("site b now answers %d %q", code, body)
	}
	// The user goes with its task.
	ctx := ctxTimeout(t, 30*time.Second)
	if err := b.task.StopWith(ctx, 2*time.Second, ""); err != nil {
		t.Fatal(err)
	}
	if err := b.task.Destroy(ctx, true); err != nil {
		t.Fatal(err)
	}
	var unknown user.UnknownUserError
	if _, err := user.Lookup(accounts[b].Username); !errors.As(err, &unknown) {
		t.Errorf("%s still exists after DestroyTask (%v)", accounts[b].Username, err)
	}
	if _, err := user.Lookup(accounts[a].Username); err != nil {
		t.Errorf("%s went with the other task: %v", accounts[a].Username, err)
	}
}
