package benchkit

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// RSSKiB is VmRSS of a process in KiB, -1 when it cannot be read.
func RSSKiB(pid int) int64 {
	return procField(fmt.Sprintf("/proc/%d/status", pid), "VmRSS:")
}

// PSSKiB is the proportional set size of a process in KiB (Pss of
// smaps_rollup: shared pages divided among their sharers), -1 when it
// cannot be read.
func PSSKiB(pid int) int64 {
	return procField(fmt.Sprintf("/proc/%d/smaps_rollup", pid), "Pss:")
}

// TotalPSSKiB sums PSSKiB over pids and says how many could be read (a
// process may have exited since it was listed).
func TotalPSSKiB(pids []int) (total int64, counted int) {
	for _, pid := range pids {
		if v := PSSKiB(pid); v >= 0 {
			total += v
			counted++
		}
	}
	return total, counted
}

// procField reads the number after name (a "Name:  123 kB" line) in file.
func procField(file, name string) int64 {
	data, err := os.ReadFile(file)
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, name) {
			f := strings.Fields(line)
			if len(f) >= 2 {
				if v, err := strconv.ParseInt(f[1], 10, 64); err == nil {
					return v
				}
			}
		}
	}
	return -1
}

// PSSByProgram sums PSSKiB over pids per program name (/proc/<pid>/comm)
// and counts the processes of each.
func PSSByProgram(pids []int) (kib map[string]int64, count map[string]int) {
	kib, count = map[string]int64{}, map[string]int{}
	for _, pid := range pids {
		comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		v := PSSKiB(pid)
		if err != nil || v < 0 {
			continue
		}
		name := strings.TrimSpace(string(comm))
		kib[name] += v
		count[name]++
	}
	return kib, count
}
