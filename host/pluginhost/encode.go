package pluginhost

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	hcljson "github.com/hashicorp/hcl/v2/json"
	"github.com/zclconf/go-cty/cty"
	ctymsgpack "github.com/zclconf/go-cty/cty/msgpack"

	"nomad_iis/gen/hclspec"
)

// EncodedConfig is a config block decoded against a plugin's spec and
// encoded the way Nomad sends it.
type EncodedConfig struct {
	// Value is the hcldec result (defaults applied, types converted).
	Value cty.Value
	// Msgpack is go-cty's msgpack of Value against its own type.
	Msgpack []byte
}

// DecodeConfig parses src as HCL-JSON (blocks as objects or arrays of
// objects; empty input means "{}") and decodes it with hcldec against spec.
// ctx supplies variables and functions for ${...} interpolation; nil allows
// none.
func DecodeConfig(spec hcldec.Spec, src []byte, ctx *hcl.EvalContext) (cty.Value, error) {
	if len(strings.TrimSpace(string(src))) == 0 {
		src = []byte("{}")
	}
	file, diags := hcljson.Parse(src, "config.json")
	if diags.HasErrors() {
		return cty.NilVal, fmt.Errorf("parse config: %w", diagError(diags))
	}
	val, diags := hcldec.Decode(file.Body, spec, ctx)
	if diags.HasErrors() {
		return cty.NilVal, fmt.Errorf("decode config: %w", diagError(diags))
	}
	return val, nil
}

// MarshalConfig encodes a decoded config like Nomad does:
// msgpack.Marshal(val, val.Type()), so "any" values are sent plainly.
func MarshalConfig(val cty.Value) ([]byte, error) {
	return ctymsgpack.Marshal(val, val.Type())
}

// EncodeConfig runs the whole pipeline: convert the plugin's spec, decode
// src against it and marshal the result.
func EncodeConfig(spec *hclspec.Spec, src []byte, ctx *hcl.EvalContext) (*EncodedConfig, error) {
	dec, err := ConvertSpec(spec)
	if err != nil {
		return nil, fmt.Errorf("convert spec: %w", err)
	}
	val, err := DecodeConfig(dec, src, ctx)
	if err != nil {
		return nil, err
	}
	b, err := MarshalConfig(val)
	if err != nil {
		return nil, fmt.Errorf("msgpack: %w", err)
	}
	return &EncodedConfig{Value: val, Msgpack: b}, nil
}

// EncodePluginConfig encodes the agent-side plugin config block the way the
// loader does: no spec means no config is allowed and the bytes are empty;
// with a spec, a missing block decodes as "{}" so defaults apply.
func EncodePluginConfig(spec *hclspec.Spec, src []byte) (*EncodedConfig, error) {
	if spec == nil {
		if len(strings.TrimSpace(string(src))) > 0 && strings.TrimSpace(string(src)) != "{}" {
			return nil, fmt.Errorf("plugin has no config schema but a config was given")
		}
		return &EncodedConfig{Value: cty.NullVal(cty.DynamicPseudoType)}, nil
	}
	return EncodeConfig(spec, src, nil)
}
