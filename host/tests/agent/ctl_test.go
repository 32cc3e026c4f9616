package agent

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCtlResolvesJobAndUploadsFolder: nomad-iis-ctl finds the job's
// allocation through the Jobs API and the Management API through the
// node's fingerprint, uploads a folder that is then served, and reports
// HTTP errors clearly.
func TestCtlResolvesJobAndUploadsFolder(t *testing.T) {
	a := startAgent(t, agentOptions{})
	a.register(sampleJob(t, "ctl-web", 1))
	tg := a.targets("ctl-web")[0]
	ctl := binary(t, "NOMAD_IIS_CTL_BIN")
	env := []string{"NOMAD_ADDR=" + a.Address, "NOMAD_IIS_API_KEY=" + apiKey, "NOMAD_IIS_MGMT_ADDR="}

	out, errOut, code := runBinary(t, ctl, env, time.Minute, "status", "--job", "ctl-web")
	if code != 0 || !strings.Contains(out, tg.AllocID[:8]) || !strings.Contains(out, "default") {
		t.Fatalf("status: %d\n%s%s", code, out, errOut)
	}

	site := filepath.Join(tempDir(t), "site")
	if err := os.MkdirAll(filepath.Join(site, "css"), 0o755); err != nil {
		t.Fatal(err)
	}
	newMarker := fmt.Sprintf("uploaded-by-ctl-%d", time.Now().UnixNano())
	os.WriteFile(filepath.Join(site, "index.html"), []byte("<p>"+newMarker+"</p>\n"), 0o644)
	os.WriteFile(filepath.Join(site, "css", "site.css"), []byte("p{color:red}\n"), 0o644)
	out, errOut, code = runBinary(t, ctl, env, 2*time.Minute, "upload", "--job", "ctl-web", "--task", "app",
		"--to", "local", "--clean", site)
	if code != 0 || !strings.Contains(out, "2 file(s)") {
		t.Fatalf("upload: %d\n%s%s", code, out, errOut)
	}
	serves(t, tg.PortURL(""), newMarker, 10*time.Second)
	serves(t, tg.PortURL("")+"css/site.css", "color:red", 10*time.Second)
	if code, _, _ := get(tg.PortURL("") + "style.css"); code != 404 {
		t.Errorf("--clean left the old style.css (HTTP %d)", code)
	}

	// Addressed by alloc ID prefix: download the folder back.
	zipPath := filepath.Join(tempDir(t), "local.zip")
	out, errOut, code = runBinary(t, ctl, env, time.Minute, "download", "--alloc", tg.AllocID[:8], "-o", zipPath, "local")
	if st, err := os.Stat(zipPath); code != 0 || err != nil || st.Size() == 0 {
		t.Fatalf("download: %d %v\n%s%s", code, err, out, errOut)
	}
	out, errOut, code = runBinary(t, ctl, env, time.Minute, "recycle", "--job", "ctl-web")
	if code != 0 || !strings.Contains(out, "recycle done") {
		t.Errorf("recycle: %d\n%s%s", code, out, errOut)
	}

	// Clear messages for HTTP errors, exit code 1.
	for _, c := range []struct {
		args []string
		env  []string
		want string
	}{
		{[]string{"status", "--job", "ctl-web"}, []string{"NOMAD_IIS_API_KEY=wrong"}, "refused the credentials (401"},
		{[]string{"status", "--job", "nope"}, nil, `job "nope" not found`},
		{[]string{"status", "--alloc", "ffffffff"}, nil, "allocation \"ffffffff\" not found"},
		{[]string{"download", "--job", "ctl-web", "local/missing.txt"}, nil, "not found (404"},
		{[]string{"rm", "--job", "ctl-web", "."}, nil, "bad request (400"},
		{[]string{"status", "--job", "ctl-web"}, []string{"NOMAD_ADDR=http://127.0.0.1:1"}, "cannot reach the host's HTTP API"},
	} {
		_, errOut, code := runBinary(t, ctl, append(append([]string{}, env...), c.env...), time.Minute, c.args...)
		if code != 1 || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want 1 and %q", c.args, code, errOut, c.want)
		}
	}
	if _, errOut, code := runBinary(t, ctl, env, time.Minute, "status"); code != 2 || !strings.Contains(errOut, "--alloc") {
		t.Errorf("status without a target: %d %q", code, errOut)
	}
}
