package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"time"

	"nomad_iis/gen/driverpb"
	"nomad_iis/host/pluginhost"
)

type infoOutput struct {
	PluginInfo       json.RawMessage   `json:"plugin_info"`
	APIVersion       string            `json:"negotiated_api_version"`
	ConfigSchema     json.RawMessage   `json:"config_schema"`
	PluginConfig     interface{}       `json:"plugin_config"`
	PluginConfigHex  string            `json:"plugin_config_msgpack_hex"`
	TaskConfigSchema json.RawMessage   `json:"task_config_schema"`
	Capabilities     json.RawMessage   `json:"capabilities"`
	Fingerprint      json.RawMessage   `json:"fingerprint"`
	NodeAttributes   map[string]string `json:"node_attributes"`
	InitImplemented  bool              `json:"init_implemented"`
	Pid              int               `json:"pid"`
	Network          string            `json:"network"`
	Address          string            `json:"address"`
	Launches         interface{}       `json:"launches"`
}

func cmdInfo(args []string) error {
	fs := flag.NewFlagSet("info", flag.ContinueOnError)
	var c common
	c.register(fs)
	pluginConfig := fs.String("plugin-config", "", "agent-side plugin config block as HCL-JSON (or @file)")
	timeout := fs.Duration("fingerprint-timeout", 10*time.Second, "how long to wait for the first fingerprint")
	if err := fs.Parse(args); err != nil {
		return usagef("%v", err)
	}
	opts, err := c.launchOptions(fs)
	if err != nil {
		return err
	}
	cfgJSON, err := jsonArg("plugin-config", *pluginConfig)
	if err != nil {
		return err
	}
	ctx := context.Background()
	h, err := pluginhost.Start(ctx, pluginhost.Config{Launch: opts, PluginConfig: cfgJSON})
	if err != nil {
		return err
	}
	defer h.Shutdown()

	drv := h.Driver()
	desc := h.Description()
	out := infoOutput{
		PluginInfo:      protoJSON(desc.Info),
		APIVersion:      desc.APIVersion,
		ConfigSchema:    protoJSON(desc.ConfigSpec),
		PluginConfigHex: fmt.Sprintf("%x", h.PluginConfig().Msgpack),
		InitImplemented: drv.InitImplemented,
		Pid:             drv.Pid(),
	}
	out.Network, out.Address = drv.Address()
	out.PluginConfig = ctyJSON(h.PluginConfig().Value)
	report := h.Report()
	out.Launches = map[string]interface{}{
		"loader":   killJSON(report.LoaderKill),
		"validate": map[string]interface{}{"ran": report.Validated, "kill": killJSON(report.ValidateKill)},
	}

	client := h.Client()
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	schema, err := client.Driver.TaskConfigSchema(cctx, &driverpb.TaskConfigSchemaRequest{})
	if err != nil {
		return fmt.Errorf("TaskConfigSchema: %w", err)
	}
	out.TaskConfigSchema = protoJSON(schema.GetSpec())
	caps, err := client.Driver.Capabilities(cctx, &driverpb.CapabilitiesRequest{})
	if err != nil {
		return fmt.Errorf("Capabilities: %w", err)
	}
	out.Capabilities = protoJSON(caps.GetCapabilities())

	fctx, fcancel := context.WithTimeout(ctx, *timeout)
	defer fcancel()
	fp, err := drv.Fingerprints.Next(fctx, 0)
	if err != nil {
		return fmt.Errorf("first fingerprint: %w", err)
	}
	out.Fingerprint = protoJSON(fp)
	out.NodeAttributes = pluginhost.FormatAttributes(fp.GetAttributes())
	return printJSON(out)
}

func killJSON(k pluginhost.KillResult) map[string]interface{} {
	return map[string]interface{}{"graceful": k.Graceful, "ms": k.Elapsed.Milliseconds()}
}
