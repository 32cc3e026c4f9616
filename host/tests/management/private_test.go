package management

import (
	"archive/zip"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// zipHolds reports whether a zip has an entry whose name or content holds needle.
func zipHolds(t *testing.T, body []byte, needle string) bool {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(body), int64(len(body)))
	if err != nil {
		t.Fatalf("not a zip: %v", err)
	}
	for _, f := range zr.File {
		if strings.Contains(f.Name, needle) {
			return true
		}
		rc, err := f.Open()
		if err != nil {
			continue
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		if bytes.Contains(b, []byte(needle)) {
			return true
		}
	}
	return false
}

// refused expects a 403 JSON error that names the folder.
func refused(t *testing.T, r apiResponse, folder, what string) {
	t.Helper()
	expect(t, r, 403, what)
	if r.code == 403 && !strings.Contains(string(r.body), folder) {
		t.Errorf("%s: the error does not name %s: %s", what, folder, r.body)
	}
}

// TestPrivateIsNeverServed: private/ is refused for every method, also
// through a symlink and with allow_secrets_access, and left out of folder
// downloads.
func TestPrivateIsNeverServed(t *testing.T) {
	for _, allow := range []bool{false, true} {
		e := startEnv(t, envOptions{config: map[string]interface{}{"allow_secrets_access": allow}})
		a := e.startApp(appOptions{})
		key := withKey(apiKey)
		private := a.task.Dir().PrivateDir
		if err := os.WriteFile(filepath.Join(private, "key"), []byte("PRIVATE-MARKER"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink("../private", filepath.Join(a.localDir(), "priv")); err != nil {
			t.Fatal(err)
		}
		z := makeZip(t, []zipEntry{{name: "x.txt", data: []byte("x")}})
		for _, p := range []string{"private", "local/priv"} {
			refused(t, get(t, key, a.api+"/fs/"+p+"/key"), "private", "GET "+p+"/key")
			refused(t, get(t, key, a.api+"/fs/"+p), "private", "GET "+p)
			refused(t, call(t, key, "PUT", a.api+"/fs/"+p+"/new.txt", strings.NewReader("x"), "text/plain"), "private", "PUT "+p+"/new.txt")
			refused(t, call(t, key, "PUT", a.api+"/fs/"+p+"?clean=true", bytes.NewReader(z), "application/zip"), "private", "PUT zip "+p)
			refused(t, call(t, key, "PATCH", a.api+"/fs/"+p, bytes.NewReader(z), "application/zip"), "private", "PATCH "+p)
			refused(t, call(t, key, "DELETE", a.api+"/fs/"+p+"/key", nil, ""), "private", "DELETE "+p+"/key")
			refused(t, call(t, key, "DELETE", a.api+"/fs/"+p+"/*", nil, ""), "private", "DELETE "+p+"/*")
		}
		refused(t, call(t, key, "DELETE", a.api+"/fs/private", nil, ""), "private", "DELETE private")
		r := get(t, key, a.api+"/fs/")
		expect(t, r, 200, "task dir")
		if zipHolds(t, r.body, "PRIVATE-MARKER") || zipHolds(t, r.body, "private/") {
			t.Errorf("allow_secrets_access=%v: the task dir zip holds private/", allow)
		}
		if b, err := os.ReadFile(filepath.Join(private, "key")); err != nil || string(b) != "PRIVATE-MARKER" {
			t.Errorf("private/key changed: %q %v", b, err)
		}
		if ents, _ := os.ReadDir(private); len(ents) != 1 {
			t.Errorf("private/ holds %d entries, want only key", len(ents))
		}
	}
}

// TestSecretsKnownByIdentity: secrets/ renamed by the app after the API saw
// it, or reached through an absolute link, is still refused and left out of
// downloads.
func TestSecretsKnownByIdentity(t *testing.T) {
	e := startEnv(t, envOptions{})
	a := e.startApp(appOptions{})
	key := withKey(apiKey)
	dir := a.task.Dir()
	refused(t, get(t, key, a.api+"/fs/secrets/token"), "secrets", "GET secrets/token")
	if err := os.Symlink(dir.SecretsDir, filepath.Join(a.localDir(), "abs")); err != nil {
		t.Fatal(err)
	}
	refused(t, get(t, key, a.api+"/fs/local/abs/token"), "secrets", "GET through an absolute link")
	// The app renames secrets/ and puts a decoy in its place.
	renamed := filepath.Join(dir.Dir, "renamed")
	if err := os.Rename(dir.SecretsDir, renamed); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(dir.SecretsDir, 0o777); err != nil {
		t.Fatal(err)
	}
	refused(t, get(t, key, a.api+"/fs/renamed/token"), "secrets", "GET renamed/token")
	refused(t, call(t, key, "PUT", a.api+"/fs/renamed/new.txt", strings.NewReader("x"), "text/plain"), "secrets", "PUT renamed/new.txt")
	refused(t, call(t, key, "DELETE", a.api+"/fs/renamed/token", nil, ""), "secrets", "DELETE renamed/token")
	r := get(t, key, a.api+"/fs/")
	expect(t, r, 200, "task dir")
	if zipHolds(t, r.body, "s3cr3t") || zipHolds(t, r.body, "renamed/") {
		t.Error("the task dir zip holds the renamed secrets folder")
	}
	if b, err := os.ReadFile(filepath.Join(renamed, "token")); err != nil || string(b) != "s3cr3t" {
		t.Errorf("the secret changed: %q %v", b, err)
	}
}
