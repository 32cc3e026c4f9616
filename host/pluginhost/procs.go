package pluginhost

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ProcStatus is a numeric field of /proc/<pid>/status ("Threads"; "VmRSS"
// and "VmHWM" in kB).
func ProcStatus(pid int, field string) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, field+":") {
			n, err := strconv.ParseInt(strings.Fields(line)[1], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("%s in /proc/%d/status: %q", field, pid, line)
			}
			return n, nil
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}

// PidAlive reports whether pid exists and is not a zombie.
func PidAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	if err := syscall.Kill(pid, 0); err != nil && err != syscall.EPERM {
		return false
	}
	state, _, ok := procStat(pid)
	return ok && state != 'Z' && state != 'X'
}

// WaitPidsGone waits until none of pids is alive; it returns the ones
// still alive when the timeout passed.
func WaitPidsGone(pids []int, timeout time.Duration) []int {
	deadline := time.Now().Add(timeout)
	for {
		var alive []int
		for _, p := range pids {
			if PidAlive(p) {
				alive = append(alive, p)
			}
		}
		if len(alive) == 0 || time.Now().After(deadline) {
			return alive
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// procStat returns the state letter and parent pid from /proc/<pid>/stat.
func procStat(pid int) (byte, int, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, false
	}
	// The command name is in parentheses and may contain spaces.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return 0, 0, false
	}
	fields := strings.Fields(string(b[i+2:]))
	if len(fields) < 2 {
		return 0, 0, false
	}
	ppid, _ := strconv.Atoi(fields[1])
	return fields[0][0], ppid, true
}

// ProcessesMentioning returns the live processes whose command line,
// environment or working directory contains marker, plus all their
// descendants. Tests use it to find task processes by a unique directory.
func ProcessesMentioning(marker string) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	self := os.Getpid()
	children := map[int][]int{}
	matched := map[int]bool{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		state, ppid, ok := procStat(pid)
		if !ok || state == 'Z' {
			continue
		}
		children[ppid] = append(children[ppid], pid)
		if mentions(pid, marker) {
			matched[pid] = true
		}
	}
	var out []int
	var walk func(int)
	seen := map[int]bool{}
	walk = func(pid int) {
		if seen[pid] {
			return
		}
		seen[pid] = true
		out = append(out, pid)
		for _, c := range children[pid] {
			walk(c)
		}
	}
	for pid := range matched {
		walk(pid)
	}
	return out
}

func mentions(pid int, marker string) bool {
	base := "/proc/" + strconv.Itoa(pid)
	m := []byte(marker)
	for _, f := range []string{"cmdline", "environ"} {
		if b, err := os.ReadFile(filepath.Join(base, f)); err == nil && bytes.Contains(b, m) {
			return true
		}
	}
	if cwd, err := os.Readlink(filepath.Join(base, "cwd")); err == nil && strings.Contains(cwd, marker) {
		return true
	}
	return false
}

// KillPids sends SIGKILL to each pid (by pid, nothing else) and waits up to
// 5 s for them to go away. It returns the ones still alive.
func KillPids(pids []int) []int {
	for _, p := range pids {
		_ = syscall.Kill(p, syscall.SIGKILL)
	}
	return WaitPidsGone(pids, 5*time.Second)
}
