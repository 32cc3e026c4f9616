// Command nomad-iis-host launches a Nomad task driver plugin the way a
// Nomad client agent does and drives it from the command line.
//
//	nomad-iis-host info   --plugin PATH [--plugin-config JSON] [-- plugin args]
//	nomad-iis-host encode --plugin PATH --which task|driver --config JSON [--port label=N ...]
//	nomad-iis-host run    --plugin PATH --task-config JSON --port label=N ... [--local DIR]
//	nomad-iis-host agent  [-config FILE] [-dev] [-plugin PATH] [-- plugin args]
//	nomad-iis-host job    run|status|stop|validate|parse ...
//
// JSON arguments are HCL-JSON (blocks as objects or arrays of objects);
// "@file" reads them from a file.
package main

import (
	"fmt"
	"os"
)

func usage() {
	fmt.Fprint(os.Stderr, `usage: nomad-iis-host <command> [flags] [-- plugin args]

commands:
  info    launch the plugin like an agent start; print PluginInfo, schemas,
          capabilities and the first fingerprint as JSON
  encode  print the hex msgpack Nomad would send for a task or driver config
  run     start one task, print its ports and URLs, stop it on Ctrl-C
  agent   run the single-node host: the plugin, Nomad's Jobs HTTP API,
          placement, restarts, state and recovery
  job     run, status, stop, validate or parse a job file against an agent

Run "nomad-iis-host <command> -h" for the flags of a command.
`)
}

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "info":
		err = cmdInfo(os.Args[2:])
	case "encode":
		err = cmdEncode(os.Args[2:])
	case "run":
		err = cmdRun(os.Args[2:])
	case "agent":
		err = cmdAgent(os.Args[2:])
	case "job":
		err = cmdJob(os.Args[2:])
	case "-h", "--help", "help":
		usage()
		return
	default:
		fmt.Fprintf(os.Stderr, "nomad-iis-host: unknown command %q\n", os.Args[1])
		usage()
		os.Exit(2)
	}
	if err != nil {
		if ee, ok := err.(*exitError); ok {
			fmt.Fprintf(os.Stderr, "nomad-iis-host %s: %s\n", os.Args[1], ee.msg)
			os.Exit(ee.code)
		}
		if ue, ok := err.(usageError); ok {
			fmt.Fprintf(os.Stderr, "nomad-iis-host %s: %s\n", os.Args[1], ue.msg)
			os.Exit(2)
		}
		fmt.Fprintf(os.Stderr, "nomad-iis-host %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}
