package agent

import (
	"archive/tar"
	"archive/zip"
	"compress/gzip"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// Archive suffixes unpacked by artifact fetching (go-getter's names).
var archiveSuffixes = []string{".zip", ".tar.gz", ".tgz", ".tar"}

var envRef = regexp.MustCompile(`\$\{([A-Za-z0-9_.]+)\}`)

// interpolate replaces ${NAME} with the task env's value (unknown names are
// left as they are).
func interpolate(s string, env map[string]string) string {
	return envRef.ReplaceAllStringFunc(s, func(m string) string {
		if v, ok := env[m[2:len(m)-1]]; ok {
			return v
		}
		return m
	})
}

// fetchArtifact puts an artifact into the task dir: a local directory is
// copied, a zip or tar archive unpacked (unless options.archive = "false"),
// any other file copied. Sources are local paths or file:// URLs.
func fetchArtifact(a *TaskArtifact, taskDir string, env map[string]string) error {
	src := interpolate(*a.GetterSource, env)
	path, err := localSource(src)
	if err != nil {
		return err
	}
	dest := "local/"
	if a.RelativeDest != nil {
		dest = interpolate(*a.RelativeDest, env)
	}
	if escapesTaskDir(dest) {
		return fmt.Errorf("destination %q escapes the task directory", dest)
	}
	destPath := filepath.Join(taskDir, dest)
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("artifact source: %w", err)
	}
	mode := "any"
	if a.GetterMode != nil {
		mode = *a.GetterMode
	}
	if st.IsDir() {
		if mode == "file" {
			return fmt.Errorf("artifact %s is a directory but mode is \"file\"", src)
		}
		return copyTree(path, destPath)
	}
	if a.GetterOptions["archive"] != "false" {
		switch archiveKind(path, a.GetterOptions["archive"]) {
		case "zip":
			return unzip(path, destPath)
		case "tar.gz":
			return untar(path, destPath, true)
		case "tar":
			return untar(path, destPath, false)
		}
	}
	if mode == "dir" {
		return fmt.Errorf("artifact %s is a file but mode is \"dir\"", src)
	}
	target := destPath
	if mode == "any" {
		target = filepath.Join(destPath, filepath.Base(path))
	}
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return err
	}
	return copyRegular(path, target, st.Mode().Perm())
}

// localSource turns a path or file:// URL into a local path.
func localSource(src string) (string, error) {
	if strings.HasPrefix(src, "file://") {
		u, err := url.Parse(src)
		if err != nil {
			return "", fmt.Errorf("artifact source %q: %w", src, err)
		}
		return u.Path, nil
	}
	if strings.Contains(src, "://") || strings.Contains(src, "::") {
		return "", fmt.Errorf("artifact source %q: this host fetches only local paths and file:// URLs", src)
	}
	return filepath.Abs(src)
}

func archiveKind(path, forced string) string {
	switch forced {
	case "zip", "tar", "tar.gz", "tgz":
		if forced == "tgz" {
			return "tar.gz"
		}
		return forced
	}
	lower := strings.ToLower(path)
	for _, suf := range archiveSuffixes {
		if strings.HasSuffix(lower, suf) {
			if suf == ".tgz" {
				return "tar.gz"
			}
			return strings.TrimPrefix(suf, ".")
		}
	}
	return ""
}

// within joins name under dir and refuses paths that leave dir.
func within(dir, name string) (string, error) {
	p := filepath.Join(dir, name)
	if p != dir && !strings.HasPrefix(p, dir+string(filepath.Separator)) {
		return "", fmt.Errorf("archive entry %q leaves the destination", name)
	}
	return p, nil
}

func unzip(path, dest string) error {
	zr, err := zip.OpenReader(path)
	if err != nil {
		return fmt.Errorf("open zip %s: %w", path, err)
	}
	defer zr.Close()
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return err
	}
	for _, f := range zr.File {
		target, err := within(dest, f.Name)
		if err != nil {
			return err
		}
		mode := f.Mode()
		switch {
		case mode.IsDir():
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
		case mode.IsRegular():
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			rc, err := f.Open()
			if err != nil {
				return err
			}
			err = writeFrom(rc, target, mode.Perm()|0o644)
			rc.Close()
			if err != nil {
				return err
			}
		}
	}
	return nil
}

func untar(path, dest string, gz bool) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	var r io.Reader = f
	if gz {
		g, err := gzip.NewReader(f)
		if err != nil {
			return fmt.Errorf("open %s: %w", path, err)
		}
		defer g.Close()
		r = g
	}
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return err
	}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", path, err)
		}
		target, err := within(dest, h.Name)
		if err != nil {
			return err
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			if err := writeFrom(tr, target, os.FileMode(h.Mode).Perm()|0o644); err != nil {
				return err
			}
		}
	}
}

func writeFrom(r io.Reader, target string, mode os.FileMode) error {
	out, err := os.OpenFile(target, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, r); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func copyRegular(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	return writeFrom(in, dst, mode|0o644)
}

// copyTree copies directories and regular files (symlinks are skipped).
func copyTree(src, dst string) error {
	return filepath.Walk(src, func(path string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		switch {
		case info.IsDir():
			return os.MkdirAll(target, 0o755)
		case info.Mode().IsRegular():
			return copyRegular(path, target, info.Mode().Perm())
		}
		return nil
	})
}

// ResolveLocalArtifacts makes relative local artifact sources absolute
// against baseDir (a job file's folder), so the agent finds them whatever
// its working directory.
func (j *Job) ResolveLocalArtifacts(baseDir string) {
	for _, g := range j.TaskGroups {
		if g == nil {
			continue
		}
		for _, t := range g.Tasks {
			if t == nil {
				continue
			}
			for _, a := range t.Artifacts {
				if a == nil || a.GetterSource == nil {
					continue
				}
				src := *a.GetterSource
				if src == "" || filepath.IsAbs(src) || strings.Contains(src, "://") || strings.Contains(src, "::") || strings.Contains(src, "${") {
					continue
				}
				abs, err := filepath.Abs(filepath.Join(baseDir, src))
				if err == nil {
					a.GetterSource = &abs
				}
			}
		}
	}
}
