package pluginhost

import (
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// TaskEvalContext is the interpolation context Nomad gives a job's task
// config: every task env variable as a variable (dotted names nest, so
// "a.b" is ${a.b}), all of them again in the map ${env["NAME"]}, and a set
// of standard functions. Node attributes and meta are not offered.
func TaskEvalContext(env map[string]string) *hcl.EvalContext {
	root := map[string]interface{}{}
	flat := make(map[string]cty.Value, len(env))
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		flat[k] = cty.StringVal(env[k])
		addNested(root, strings.Split(k, "."), env[k])
	}
	vars := make(map[string]cty.Value, len(root)+1)
	for k, v := range root {
		vars[k] = toCty(v)
	}
	if len(flat) > 0 {
		vars["env"] = cty.MapVal(flat)
	} else {
		vars["env"] = cty.MapValEmpty(cty.String)
	}
	return &hcl.EvalContext{Variables: vars, Functions: taskFunctions()}
}

// addNested stores value under path; a path that clashes with an existing
// leaf or subtree is skipped (Nomad reports it and goes on).
func addNested(m map[string]interface{}, path []string, value string) {
	for i, part := range path {
		if part == "" {
			return
		}
		if i == len(path)-1 {
			if _, exists := m[part]; !exists {
				m[part] = value
			}
			return
		}
		next, exists := m[part]
		if !exists {
			child := map[string]interface{}{}
			m[part] = child
			m = child
			continue
		}
		child, ok := next.(map[string]interface{})
		if !ok {
			return
		}
		m = child
	}
}

func toCty(v interface{}) cty.Value {
	switch t := v.(type) {
	case string:
		return cty.StringVal(t)
	case map[string]interface{}:
		attrs := make(map[string]cty.Value, len(t))
		for k, c := range t {
			attrs[k] = toCty(c)
		}
		return cty.ObjectVal(attrs)
	}
	return cty.NullVal(cty.String)
}

func taskFunctions() map[string]function.Function {
	return map[string]function.Function{
		"abs":        stdlib.AbsoluteFunc,
		"coalesce":   stdlib.CoalesceFunc,
		"compact":    stdlib.CompactFunc,
		"concat":     stdlib.ConcatFunc,
		"contains":   stdlib.ContainsFunc,
		"format":     stdlib.FormatFunc,
		"join":       stdlib.JoinFunc,
		"jsondecode": stdlib.JSONDecodeFunc,
		"jsonencode": stdlib.JSONEncodeFunc,
		"length":     stdlib.LengthFunc,
		"lower":      stdlib.LowerFunc,
		"max":        stdlib.MaxFunc,
		"merge":      stdlib.MergeFunc,
		"min":        stdlib.MinFunc,
		"replace":    stdlib.ReplaceFunc,
		"split":      stdlib.SplitFunc,
		"substr":     stdlib.SubstrFunc,
		"trimspace":  stdlib.TrimSpaceFunc,
		"upper":      stdlib.UpperFunc,
	}
}
