package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"nomad_iis/bench/benchkit"
)

// webConfig makes the app the pool's worker, as IIS's httpPlatform handler
// would: the plugin starts it and passes its port in HTTP_PLATFORM_PORT.
const webConfig = `<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <system.webServer>
    <handlers>
      <add name="httpPlatformHandler" path="*" verb="*" modules="httpPlatformHandler" resourceType="Unspecified" />
    </handlers>
    <httpPlatform processPath=".\benchapp" arguments="" startupTimeLimit="20" stdoutLogEnabled="false" />
  </system.webServer>
</configuration>
`

var appPort = regexp.MustCompile(`port=(\d+)`)

// startApp starts a task whose pool's worker is the bench app and waits for
// its first answer; the caller removes the task.
func startApp(ctx context.Context, e *env, name string) (*benchkit.Task, string, error) {
	files := filepath.Join(e.dir, "files", "app")
	if err := os.MkdirAll(files, 0o755); err != nil {
		return nil, "", err
	}
	if err := os.WriteFile(filepath.Join(files, "web.config"), []byte(webConfig), 0o644); err != nil {
		return nil, "", err
	}
	binary, err := os.ReadFile(*appPath)
	if err != nil {
		return nil, "", fmt.Errorf("the app's binary: %w", err)
	}
	if err := os.WriteFile(filepath.Join(files, "benchapp"), binary, 0o755); err != nil {
		return nil, "", err
	}
	task, err := benchkit.StartNewTask(ctx, e.host, e.dir, name, e.config, files)
	if err != nil {
		return nil, "", err
	}
	if err := benchkit.FirstOK(task.URL, 30*time.Second); err != nil {
		task.Remove(ctx)
		return nil, "", err
	}
	body, err := benchkit.Get(task.URL)
	if err != nil {
		task.Remove(ctx)
		return nil, "", err
	}
	return task, body, nil
}

// appPhase: small responses of a process-hosted app through the site
// against the same app process reached directly on its own port.
func appPhase(ctx context.Context, e *env, t *table) error {
	task, body, err := startApp(ctx, e, "app")
	if err != nil {
		return err
	}
	defer task.Remove(ctx)
	m := appPort.FindStringSubmatch(body)
	if m == nil {
		return fmt.Errorf("the app's answer %q names no port", body)
	}
	direct := "http://127.0.0.1:" + m[1] + "/"
	if err := benchkit.FirstOK(direct, 5*time.Second); err != nil {
		return fmt.Errorf("the app on its own port: %w", err)
	}
	site := &side{url: task.URL}
	base := &side{url: direct}
	if err := compare(site, base, 64); err != nil {
		return err
	}
	addComparison(t, fmt.Sprintf("httpPlatform app (%d B answers), wrk -c64", len(body)), site, base, false)
	return nil
}
