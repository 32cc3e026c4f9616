package agent

import (
	"fmt"
	"math/big"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// HCLToJSON converts an HCL native-syntax file into the generic JSON tree
// HCL's JSON syntax would use: attributes become members, unlabeled blocks
// arrays of objects, labeled blocks objects keyed by label (nested per
// label) whose leaves are arrays of objects.
//
// Interpolations whose variables are not known here (${NOMAD_PORT_http},
// ${env["X"]}, ${node.unique.name}, …) are kept as text for the client to
// interpolate at run time, as Nomad's job parser does.
func HCLToJSON(src []byte, filename string) (map[string]interface{}, error) {
	file, diags := hclsyntax.ParseConfig(src, filename, hcl.Pos{Line: 1, Column: 1})
	if diags.HasErrors() {
		return nil, fmt.Errorf("%s", diags.Error())
	}
	body, ok := file.Body.(*hclsyntax.Body)
	if !ok {
		return nil, fmt.Errorf("%s: not HCL native syntax", filename)
	}
	c := &hclConverter{src: src}
	return c.body(body)
}

type hclConverter struct {
	src []byte
}

var hclFunctions = map[string]function.Function{
	"abs":        stdlib.AbsoluteFunc,
	"ceil":       stdlib.CeilFunc,
	"coalesce":   stdlib.CoalesceFunc,
	"concat":     stdlib.ConcatFunc,
	"floor":      stdlib.FloorFunc,
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

func (c *hclConverter) body(b *hclsyntax.Body) (map[string]interface{}, error) {
	out := map[string]interface{}{}
	for name, attr := range b.Attributes {
		v, err := c.expr(attr.Expr)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", attr.SrcRange.String(), name, err)
		}
		out[name] = v
	}
	for _, blk := range b.Blocks {
		inner, err := c.body(blk.Body)
		if err != nil {
			return nil, err
		}
		if len(blk.Labels) == 0 {
			list, _ := out[blk.Type].([]interface{})
			out[blk.Type] = append(list, inner)
			continue
		}
		m, _ := out[blk.Type].(map[string]interface{})
		if m == nil {
			m = map[string]interface{}{}
			out[blk.Type] = m
		}
		for _, label := range blk.Labels[:len(blk.Labels)-1] {
			next, _ := m[label].(map[string]interface{})
			if next == nil {
				next = map[string]interface{}{}
				m[label] = next
			}
			m = next
		}
		last := blk.Labels[len(blk.Labels)-1]
		list, _ := m[last].([]interface{})
		m[last] = append(list, inner)
	}
	return out, nil
}

// expr evaluates an expression; templates keep the parts that refer to
// variables as ${...} text.
func (c *hclConverter) expr(e hclsyntax.Expression) (interface{}, error) {
	ctx := &hcl.EvalContext{Functions: hclFunctions}
	if len(e.Variables()) == 0 {
		v, diags := e.Value(ctx)
		if diags.HasErrors() {
			return nil, fmt.Errorf("%s", diags.Error())
		}
		return ctyToGo(v)
	}
	switch t := e.(type) {
	case *hclsyntax.TemplateExpr:
		var sb strings.Builder
		for _, part := range t.Parts {
			if len(part.Variables()) == 0 {
				v, diags := part.Value(ctx)
				if diags.HasErrors() {
					return nil, fmt.Errorf("%s", diags.Error())
				}
				s, err := ctyToGo(v)
				if err != nil {
					return nil, err
				}
				sb.WriteString(fmt.Sprint(s))
				continue
			}
			sb.WriteString("${" + string(part.Range().SliceBytes(c.src)) + "}")
		}
		return sb.String(), nil
	case *hclsyntax.TemplateWrapExpr:
		return "${" + string(t.Wrapped.Range().SliceBytes(c.src)) + "}", nil
	case *hclsyntax.TupleConsExpr:
		out := []interface{}{}
		for _, item := range t.Exprs {
			v, err := c.expr(item)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case *hclsyntax.ObjectConsExpr:
		out := map[string]interface{}{}
		for _, item := range t.Items {
			k, err := c.expr(item.KeyExpr)
			if err != nil {
				return nil, err
			}
			v, err := c.expr(item.ValueExpr)
			if err != nil {
				return nil, err
			}
			out[fmt.Sprint(k)] = v
		}
		return out, nil
	case *hclsyntax.ObjectConsKeyExpr:
		if name := hcl.ExprAsKeyword(t); name != "" {
			return name, nil
		}
		return c.expr(t.Wrapped)
	}
	return nil, fmt.Errorf("expression %q uses variables; only string templates may refer to run-time variables",
		string(e.Range().SliceBytes(c.src)))
}

// ctyToGo turns a known cty value into plain Go values for encoding/json.
func ctyToGo(v cty.Value) (interface{}, error) {
	if v.IsNull() {
		return nil, nil
	}
	if !v.IsKnown() {
		return nil, fmt.Errorf("value is not known")
	}
	ty := v.Type()
	switch {
	case ty == cty.String:
		return v.AsString(), nil
	case ty == cty.Bool:
		return v.True(), nil
	case ty == cty.Number:
		bf := v.AsBigFloat()
		if bf.IsInt() {
			i, acc := bf.Int64()
			if acc == big.Exact {
				return i, nil
			}
		}
		f, _ := bf.Float64()
		return f, nil
	case ty.IsListType() || ty.IsTupleType() || ty.IsSetType():
		out := []interface{}{}
		for it := v.ElementIterator(); it.Next(); {
			_, ev := it.Element()
			g, err := ctyToGo(ev)
			if err != nil {
				return nil, err
			}
			out = append(out, g)
		}
		return out, nil
	case ty.IsMapType() || ty.IsObjectType():
		out := map[string]interface{}{}
		for it := v.ElementIterator(); it.Next(); {
			k, ev := it.Element()
			g, err := ctyToGo(ev)
			if err != nil {
				return nil, err
			}
			out[k.AsString()] = g
		}
		return out, nil
	}
	return nil, fmt.Errorf("unsupported value of type %s", ty.FriendlyName())
}
