// Command nomad-iis-ctl manages the application pools and files of
// nomad_iis tasks. It finds allocations through Nomad's Jobs HTTP API (of
// nomad-iis-host agent, or of a real Nomad) and talks to the plugin's
// Management API on their node.
//
//	nomad-iis-ctl status   --job static-app
//	nomad-iis-ctl recycle  --alloc 3f2a --task app
//	nomad-iis-ctl upload   --job static-app --to local ./site
//	nomad-iis-ctl download --alloc 3f2a -o site.zip local
//	nomad-iis-ctl rm       --job static-app local/old.html
//	nomad-iis-ctl screenshot --job static-app -o shot.png
//	nomad-iis-ctl procdump --job static-app -o app.core
package main

import (
	"errors"
	"fmt"
	"os"
)

func usage() {
	fmt.Fprint(os.Stderr, `usage: nomad-iis-ctl <command> [flags] [args]

Target (every command but allocs):
  --alloc ID           an allocation ID (or a unique prefix)
  --job JOB            the job's running allocations (all of them)
  --task TASK          the task (default: the group's only task)

Connection (flags or environment):
  --address URL        Jobs API            NOMAD_ADDR (default http://127.0.0.1:4646)
  --api-key KEY        Management API key  NOMAD_IIS_API_KEY
  --token JWT          Management API JWT  NOMAD_IIS_TOKEN
  --mgmt-url URL       Management API URL  NOMAD_IIS_MGMT_ADDR (default: from the node's fingerprint)

Commands:
  status                          pools, workers, CPU and memory of each target
  start|stop|recycle [--pool P]   application pool lifecycle
  upload [--to PATH] SRC          a folder is zipped and extracted into PATH (default local);
                                  a file is written to PATH (default local/<name>);
                                  --no-stop keeps the pools serving (PATCH), --clean removes
                                  what the zip does not contain, --extract sends a .zip as zip
  download [-o OUT] PATH          a file, or a folder as a zip ("-o -": stdout)
  rm PATH                         delete a file or folder ("PATH/*" empties a folder)
  screenshot [-o OUT] [--path /]  a PNG of the site
  procdump [-o OUT] [--pool P]    a core dump of a pool worker
  allocs                          the tasks the plugin runs (Management API)

Run "nomad-iis-ctl <command> -h" for the flags of a command.
`)
}

func main() {
	if len(os.Args) < 2 || os.Args[1] == "-h" || os.Args[1] == "--help" || os.Args[1] == "help" {
		usage()
		if len(os.Args) < 2 {
			os.Exit(2)
		}
		return
	}
	cmd := os.Args[1]
	err := run(cmd, os.Args[2:])
	if err == nil {
		return
	}
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(os.Stderr, "nomad-iis-ctl %s: %s\n", cmd, ue.msg)
		os.Exit(2)
	}
	fmt.Fprintf(os.Stderr, "nomad-iis-ctl %s: %v\n", cmd, err)
	os.Exit(1)
}

// usageError is a command line mistake (exit code 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...interface{}) error {
	return usageError{fmt.Sprintf(format, args...)}
}
