package agent

import (
	"archive/zip"
	"os"
	"path/filepath"
	"testing"
)

func TestArtifacts(t *testing.T) {
	dir := t.TempDir()
	site := filepath.Join(dir, "site")
	os.MkdirAll(filepath.Join(site, "sub"), 0o755)
	os.WriteFile(filepath.Join(site, "index.html"), []byte("hi"), 0o644)
	os.WriteFile(filepath.Join(site, "sub", "a.txt"), []byte("a"), 0o644)
	zipPath := filepath.Join(dir, "site.zip")
	f, _ := os.Create(zipPath)
	zw := zip.NewWriter(f)
	w, _ := zw.Create("z/index.html")
	w.Write([]byte("zipped"))
	zw.Close()
	f.Close()

	task := filepath.Join(dir, "task")
	os.MkdirAll(filepath.Join(task, "local"), 0o755)
	env := map[string]string{"SITE": site}
	src, dest := "${SITE}", "local/"
	if err := fetchArtifact(&TaskArtifact{GetterSource: &src, RelativeDest: &dest}, task, env); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(task, "local", "sub", "a.txt")); string(b) != "a" {
		t.Error("folder artifact not copied")
	}
	zsrc, zdest := "file://"+zipPath, "local/unzipped"
	if err := fetchArtifact(&TaskArtifact{GetterSource: &zsrc, RelativeDest: &zdest}, task, env); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(task, "local", "unzipped", "z", "index.html")); string(b) != "zipped" {
		t.Error("zip artifact not unpacked")
	}
	raw := zipPath
	noArchive := &TaskArtifact{GetterSource: &raw, RelativeDest: &dest, GetterOptions: map[string]string{"archive": "false"}}
	if err := fetchArtifact(noArchive, task, env); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(task, "local", "site.zip")); err != nil {
		t.Error("archive=false did not copy the file as is")
	}
	remote := "https://example.com/x.zip"
	if err := fetchArtifact(&TaskArtifact{GetterSource: &remote, RelativeDest: &dest}, task, env); err == nil {
		t.Error("a remote source was accepted")
	}
	evil := "../x"
	if err := fetchArtifact(&TaskArtifact{GetterSource: &raw, RelativeDest: &evil}, task, env); err == nil {
		t.Error("a destination outside the task dir was accepted")
	}
}
