package management

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"nomad_iis/host/pluginhost"
)

// TestSecretsNeverOnTheCommandLine: the API key and JWT secret given each
// supported way (files, environment, and the unsafe arguments) work, and
// neither the plugin's /proc/<pid>/cmdline (world-readable) nor the host's
// debug log shows them; the host logs no plugin argument at all.
func TestSecretsNeverOnTheCommandLine(t *testing.T) {
	cases := []struct {
		name   string
		opts   func(dir string) envOptions
		unsafe bool
	}{
		{"files", func(dir string) envOptions {
			return envOptions{args: []string{
				"--management-api-key-file=" + writeSecret(t, dir, "key", apiKey+"\n"),
				"--management-api-jwt-secret-file", writeSecret(t, dir, "jwt", jwtSecret)}}
		}, false},
		{"environment", func(string) envOptions {
			return envOptions{args: []string{}, env: []string{
				"NOMAD_IIS_MANAGEMENT_API_KEY=" + apiKey, "NOMAD_IIS_MANAGEMENT_API_JWT_SECRET=" + jwtSecret}}
		}, false},
		{"arguments", func(string) envOptions {
			// Both spellings: --name=value and --name value.
			return envOptions{args: []string{"--management-api-key=" + apiKey, "--management-api-jwt-secret", jwtSecret}}
		}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := startEnv(t, c.opts(tempDir(t)))
			a := e.startApp(appOptions{})
			expect(t, get(t, withKey(apiKey), a.api+"/status"), 200, "status with the key")
			expect(t, get(t, withBearer(jwtFor(a.alloc.ID(), []string{"Status"}, nil)), a.api+"/status"), 200, "status with a JWT")
			expect(t, get(t, withKey("wrong"), a.api+"/status"), 401, "status with a wrong key")

			raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", e.pid()))
			if err != nil {
				t.Fatal(err)
			}
			cmdline := strings.ReplaceAll(string(raw), "\x00", " ")
			for _, secret := range []string{apiKey, jwtSecret} {
				if strings.Contains(cmdline, secret) {
					t.Errorf("/proc/%d/cmdline shows a secret: %s", e.pid(), cmdline)
				}
				if strings.Contains(e.log.String(), secret) {
					t.Errorf("the host's debug log shows a secret")
				}
			}
			if strings.Contains(e.log.String(), fmt.Sprintf("--management-api-port=%d", e.port)) {
				t.Errorf("the host's debug log shows the plugin's arguments")
			}
			warned := strings.Contains(e.log.String(), "secret given as a plugin argument is unsafe")
			if warned != c.unsafe {
				t.Errorf("warning about an unsafe argument: %v, want %v", warned, c.unsafe)
			}
		})
	}
}

// TestSecretGivenTwoWaysIsRefused: a key in a file and in the environment
// stops the plugin with an error naming both, never the value.
func TestSecretGivenTwoWaysIsRefused(t *testing.T) {
	dir := tempDir(t)
	out, err := runPluginOnce(t, []string{"--management-api-key-file=" + writeSecret(t, dir, "key", apiKey)},
		[]string{"NOMAD_IIS_MANAGEMENT_API_KEY=" + apiKey})
	if err == nil {
		t.Fatalf("the plugin started with the key given twice: %s", out)
	}
	if !strings.Contains(out, "--management-api-key-file") || !strings.Contains(out, "NOMAD_IIS_MANAGEMENT_API_KEY") {
		t.Errorf("the error does not name both sources: %s", out)
	}
	if strings.Contains(out, apiKey) {
		t.Errorf("the error shows the key: %s", out)
	}
}

// runPluginOnce runs the plugin binary with go-plugin's cookie and waits for
// it to exit (it serves forever when its arguments are fine: then it is
// killed after 10 s and the error says so).
func runPluginOnce(t *testing.T, args, env []string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	hs := pluginhost.Handshake()
	cmd := exec.CommandContext(ctx, pluginPath(t), args...)
	cmd.Env = append(os.Environ(), hs.MagicCookieKey+"="+hs.MagicCookieValue)
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		return string(out), nil
	}
	return string(out), err
}
