package main

import (
	"encoding/json"

	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/zclconf/go-cty/cty"
)

// ctyJSON renders a decoded config value as plain JSON.
func ctyJSON(v cty.Value) interface{} {
	if v == cty.NilVal || v.IsNull() {
		return nil
	}
	b, err := ctyjson.Marshal(v, v.Type())
	if err != nil {
		return err.Error()
	}
	return json.RawMessage(b)
}
