package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"nomad_iis/gen/driverpb"
	"nomad_iis/host/pluginhost"
)

func cmdEncode(args []string) error {
	fs := flag.NewFlagSet("encode", flag.ContinueOnError)
	var c common
	c.register(fs)
	which := fs.String("which", "task", "which schema: task (job config block) or driver (agent plugin config)")
	config := fs.String("config", "", "the config block as HCL-JSON (or @file)")
	var ports portsFlag
	fs.Var(&ports, "port", "group port label=N[@ip] for ${NOMAD_PORT_label} interpolation (repeatable)")
	verbose := fs.Bool("v", false, "also print the decoded value as JSON on stderr")
	if err := fs.Parse(args); err != nil {
		return usagef("%v", err)
	}
	if c.logLevel == "info" {
		c.logLevel = "warn"
	}
	opts, err := c.launchOptions(fs)
	if err != nil {
		return err
	}
	src, err := jsonArg("config", *config)
	if err != nil {
		return err
	}
	if *which != "task" && *which != "driver" {
		return usagef("--which must be task or driver")
	}

	inst, err := pluginhost.Launch(opts, "encode")
	if err != nil {
		return err
	}
	defer inst.Kill()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	desc, err := pluginhost.Describe(ctx, inst.Driver())
	if err != nil {
		return err
	}
	var enc *pluginhost.EncodedConfig
	if *which == "driver" {
		enc, err = pluginhost.EncodePluginConfig(desc.ConfigSpec, src)
	} else {
		schema, serr := inst.Driver().Driver.TaskConfigSchema(ctx, &driverpb.TaskConfigSchemaRequest{})
		if serr != nil {
			return fmt.Errorf("TaskConfigSchema: %w", serr)
		}
		env := pluginhost.PortEnv(ports)
		enc, err = pluginhost.EncodeConfig(schema.GetSpec(), src, pluginhost.TaskEvalContext(env))
	}
	if err != nil {
		return err
	}
	if *verbose {
		fmt.Fprintf(os.Stderr, "%s\n", ctyJSON(enc.Value))
	}
	fmt.Printf("%x\n", enc.Msgpack)
	return nil
}
