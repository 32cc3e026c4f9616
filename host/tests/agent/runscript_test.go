package agent

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"nomad_iis/host/pluginhost"
)

// TestRunScriptCtrlCLeavesNothing runs scripts/run.sh (the README's main
// job, set-up skipped) as a terminal would: it prints the app URL, the
// Management API URL and curl examples, both answer, and a Ctrl-C (SIGINT
// to its process group) stops everything, leaving no process behind.
func TestRunScriptCtrlCLeavesNothing(t *testing.T) {
	host := binary(t, "NOMAD_IIS_HOST_BIN")
	plugin := binary(t, "NOMAD_IIS_PLUGIN")
	tmp := tempDir(t)
	hp, _ := pluginhost.FreePort()
	mp, _ := pluginhost.FreePort()
	cmd := exec.Command("bash", repoPath("scripts", "run.sh"))
	cmd.Dir = repoPath()
	cmd.Env = append(os.Environ(), "SKIP_SETUP=1", "TMPDIR="+tmp, "HOST_BIN="+host, "PLUGIN="+plugin,
		fmt.Sprintf("HTTP_PORT=%d", hp), fmt.Sprintf("MGMT_PORT=%d", mp))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pgid := cmd.Process.Pid
	exited := make(chan struct{})
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		select {
		case <-exited:
		default:
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			<-exited
		}
	})

	var out syncBuffer
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		signalled := false
		for sc.Scan() {
			out.Write([]byte(sc.Text() + "\n"))
			if strings.Contains(sc.Text(), "Press Ctrl-C") && !signalled {
				signalled = true
				close(ready)
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case <-ready:
	case <-exited:
		t.Fatalf("run.sh exited early (%v):\n%s\n%s", waitErr, out.String(), stderr.String())
	case <-time.After(2 * time.Minute):
		t.Fatalf("run.sh did not get ready:\n%s\n%s", out.String(), stderr.String())
	}
	text := out.String()
	appURL := regexp.MustCompile(`curl -s (http://127\.0\.0\.1:\d+/)\n`).FindStringSubmatch(text)
	mgmt := regexp.MustCompile(`curl -s -H 'X-Api-Key: ([0-9a-f]+)' (http://127\.0\.0\.1:\d+/api/v1/allocs/[^ ]+/app/status)`).FindStringSubmatch(text)
	if appURL == nil || mgmt == nil || !strings.Contains(text, fmt.Sprintf("http://127.0.0.1:%d/v1/jobs", hp)) {
		t.Fatalf("run.sh output lacks the URLs and curl examples:\n%s", text)
	}
	serves(t, appURL[1], marker, 10*time.Second)
	req := apiKeyGet(t, mgmt[2], mgmt[1])
	if !strings.Contains(req, `"taskName":"app"`) {
		t.Errorf("the printed Management API example answers %s", req)
	}

	// Ctrl-C at the terminal: SIGINT to the whole foreground group.
	if err := syscall.Kill(-pgid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
	case <-time.After(90 * time.Second):
		t.Fatalf("run.sh did not stop after Ctrl-C:\n%s", out.String())
	}
	time.Sleep(200 * time.Millisecond)
	if !strings.Contains(out.String(), "nothing left running") {
		t.Errorf("run.sh output after Ctrl-C:\n%s\n%s", out.String(), stderr.String())
	}
	if left := pluginhost.ProcessesMentioning(tmp); len(left) > 0 {
		t.Errorf("processes left after Ctrl-C: %v", left)
	}
	if code, _, err := get(appURL[1]); err == nil {
		t.Errorf("the app still answers (%d) after Ctrl-C", code)
	}
	entries, _ := os.ReadDir(tmp)
	if len(entries) != 0 {
		t.Errorf("run.sh left %d entries in its temp dir", len(entries))
	}
}

func apiKeyGet(t *testing.T, url, key string) string {
	t.Helper()
	req, _ := httpNewRequest(url)
	req.Header.Set("X-Api-Key", key)
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
