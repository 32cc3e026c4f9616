package pluginhost

import (
	"strconv"

	"nomad_iis/gen/pstructs"
)

// FormatAttribute renders a fingerprint attribute as the agent shows it in
// the node's attributes: the value as text with the unit appended.
func FormatAttribute(a *pstructs.Attribute) string {
	var s string
	switch v := a.GetValue().(type) {
	case *pstructs.Attribute_FloatVal:
		s = strconv.FormatFloat(v.FloatVal, 'f', -1, 64)
	case *pstructs.Attribute_IntVal:
		s = strconv.FormatInt(v.IntVal, 10)
	case *pstructs.Attribute_StringVal:
		s = v.StringVal
	case *pstructs.Attribute_BoolVal:
		s = strconv.FormatBool(v.BoolVal)
	}
	return s + a.GetUnit()
}

// FormatAttributes formats every attribute of a fingerprint.
func FormatAttributes(attrs map[string]*pstructs.Attribute) map[string]string {
	out := make(map[string]string, len(attrs))
	for k, v := range attrs {
		out[k] = FormatAttribute(v)
	}
	return out
}
