package pluginhost

import (
	"fmt"
	"os"
	"path/filepath"
)

// AllocDir is an allocation's directory tree, laid out like Nomad's
// client/allocdir: <root>/alloc/{data,logs,tmp} shared by the tasks, and
// <root>/<task>/{local,secrets,tmp,private} per task.
type AllocDir struct {
	// Root is TaskConfig.alloc_dir.
	Root string
}

// SharedDir is <root>/alloc (NOMAD_ALLOC_DIR).
func (a AllocDir) SharedDir() string { return filepath.Join(a.Root, "alloc") }

// LogDir is <root>/alloc/logs, where the log FIFOs and files live.
func (a AllocDir) LogDir() string { return filepath.Join(a.Root, "alloc", "logs") }

// TaskDir is one task's directories.
type TaskDir struct {
	// Dir is <root>/<task>.
	Dir string
	// LocalDir is <root>/<task>/local (NOMAD_TASK_DIR).
	LocalDir string
	// SecretsDir is <root>/<task>/secrets (NOMAD_SECRETS_DIR).
	SecretsDir string
	// TmpDir is <root>/<task>/tmp.
	TmpDir string
	// PrivateDir is <root>/<task>/private.
	PrivateDir string
}

// Directory modes as Nomad leaves them (its dropDirPermissions makes task
// directories world-writable; tmp dirs are sticky). Nomad also chowns them
// to nobody when it runs as root; this host does not.
const (
	dirModeOpen   = 0o777
	dirModeSticky = os.ModeSticky | 0o777
)

// BuildAllocDir creates root and the shared alloc directories.
func BuildAllocDir(root string) (AllocDir, error) {
	a := AllocDir{Root: root}
	if err := mkdirMode(root, 0o755); err != nil {
		return a, err
	}
	if err := mkdirMode(a.SharedDir(), dirModeOpen); err != nil {
		return a, err
	}
	for _, d := range []string{"data", "logs"} {
		if err := mkdirMode(filepath.Join(a.SharedDir(), d), dirModeOpen); err != nil {
			return a, err
		}
	}
	if err := mkdirMode(filepath.Join(a.SharedDir(), "tmp"), dirModeSticky); err != nil {
		return a, err
	}
	return a, nil
}

// TaskDir returns the paths of a task's directories without creating them.
func (a AllocDir) TaskDir(task string) TaskDir {
	dir := filepath.Join(a.Root, task)
	return TaskDir{
		Dir:        dir,
		LocalDir:   filepath.Join(dir, "local"),
		SecretsDir: filepath.Join(dir, "secrets"),
		TmpDir:     filepath.Join(dir, "tmp"),
		PrivateDir: filepath.Join(dir, "private"),
	}
}

// BuildTaskDir creates a task's directories.
func (a AllocDir) BuildTaskDir(task string) (TaskDir, error) {
	if task == "" || task != filepath.Base(task) || task == "alloc" {
		return TaskDir{}, fmt.Errorf("invalid task name %q", task)
	}
	t := a.TaskDir(task)
	for _, d := range []string{t.Dir, t.LocalDir, t.SecretsDir, t.PrivateDir} {
		if err := mkdirMode(d, dirModeOpen); err != nil {
			return t, err
		}
	}
	if err := mkdirMode(t.TmpDir, dirModeSticky); err != nil {
		return t, err
	}
	return t, nil
}

// mkdirMode creates dir and sets its mode exactly (MkdirAll is subject to
// the umask).
func mkdirMode(dir string, mode os.FileMode) error {
	if err := os.MkdirAll(dir, mode.Perm()); err != nil {
		return err
	}
	return os.Chmod(dir, mode)
}
