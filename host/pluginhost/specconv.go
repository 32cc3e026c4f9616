package pluginhost

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"

	"nomad_iis/gen/hclspec"
)

// The functions a spec's Literal expressions may call (Nomad's hclspecutils
// offers exactly these).
var literalEvalContext = &hcl.EvalContext{
	Functions: map[string]function.Function{
		"abs":        stdlib.AbsoluteFunc,
		"coalesce":   stdlib.CoalesceFunc,
		"concat":     stdlib.ConcatFunc,
		"hasindex":   stdlib.HasIndexFunc,
		"int":        stdlib.IntFunc,
		"jsondecode": stdlib.JSONDecodeFunc,
		"jsonencode": stdlib.JSONEncodeFunc,
		"length":     stdlib.LengthFunc,
		"lower":      stdlib.LowerFunc,
		"max":        stdlib.MaxFunc,
		"min":        stdlib.MinFunc,
		"reverse":    stdlib.ReverseFunc,
		"strlen":     stdlib.StrlenFunc,
		"substr":     stdlib.SubstrFunc,
		"upper":      stdlib.UpperFunc,
	},
}

var specPos = hcl.Pos{Line: 1, Column: 1, Byte: 0}

// ConvertSpec turns a plugin's hclspec protobuf into an hcldec spec with the
// rules of Nomad's helper/pluginutils/hclspecutils: object keys name their
// Attr/Block children, a Default's primary gets no implied name, block
// lists/sets/maps/attrs must end up named, block maps need a label and no
// `any`, a nil spec is an error.
func ConvertSpec(spec *hclspec.Spec) (hcldec.Spec, error) {
	if spec == nil {
		return nil, fmt.Errorf("nil spec given")
	}
	out, diags := convertSpec(spec, "")
	if diags.HasErrors() {
		return nil, diagError(diags)
	}
	return out, nil
}

func convertSpec(spec *hclspec.Spec, impliedName string) (hcldec.Spec, hcl.Diagnostics) {
	switch b := spec.GetBlock().(type) {
	case *hclspec.Spec_Object:
		return convertObject(b.Object)
	case *hclspec.Spec_Array:
		return convertArray(b.Array)
	case *hclspec.Spec_Attr:
		return convertAttr(b.Attr, impliedName)
	case *hclspec.Spec_BlockValue:
		return convertBlock(b.BlockValue, impliedName)
	case *hclspec.Spec_BlockAttrs:
		return convertBlockAttrs(b.BlockAttrs, impliedName)
	case *hclspec.Spec_BlockList:
		return convertBlockList(b.BlockList, impliedName)
	case *hclspec.Spec_BlockSet:
		return convertBlockSet(b.BlockSet, impliedName)
	case *hclspec.Spec_BlockMap:
		return convertBlockMap(b.BlockMap, impliedName)
	case *hclspec.Spec_Default:
		return convertDefault(b.Default)
	case *hclspec.Spec_Literal:
		return convertLiteral(b.Literal)
	default:
		return nil, errDiag("Invalid spec block", fmt.Sprintf("Spec block of type %T is not supported.", spec.GetBlock()))
	}
}

func convertObject(obj *hclspec.Object) (hcldec.Spec, hcl.Diagnostics) {
	out := make(hcldec.ObjectSpec, len(obj.GetAttributes()))
	var diags hcl.Diagnostics
	for name, child := range obj.GetAttributes() {
		s, d := convertSpec(child, name)
		diags = append(diags, d...)
		out[name] = s
	}
	return out, diags
}

func convertArray(arr *hclspec.Array) (hcldec.Spec, hcl.Diagnostics) {
	out := make(hcldec.TupleSpec, 0, len(arr.GetValues()))
	var diags hcl.Diagnostics
	for _, child := range arr.GetValues() {
		s, d := convertSpec(child, "")
		diags = append(diags, d...)
		out = append(out, s)
	}
	return out, diags
}

func convertAttr(attr *hclspec.Attr, impliedName string) (hcldec.Spec, hcl.Diagnostics) {
	out := &hcldec.AttrSpec{Name: pick(attr.GetName(), impliedName), Required: attr.GetRequired()}
	ty, diags := typeConstraint(attr.GetType())
	if diags.HasErrors() {
		return nil, diags
	}
	out.Type = ty
	if out.Name == "" {
		return nil, append(diags, errDiag("Missing name in attribute spec",
			"The name attribute is required, to specify the attribute name that is expected in an input HCL file.")...)
	}
	return out, diags
}

func convertBlock(block *hclspec.Block, impliedName string) (hcldec.Spec, hcl.Diagnostics) {
	out := &hcldec.BlockSpec{TypeName: pick(block.GetName(), impliedName), Required: block.GetRequired()}
	nested, diags := convertNested(block.GetNested())
	out.Nested = nested
	return out, diags
}

func convertBlockAttrs(block *hclspec.BlockAttrs, impliedName string) (hcldec.Spec, hcl.Diagnostics) {
	out := &hcldec.BlockAttrsSpec{TypeName: pick(block.GetName(), impliedName), Required: block.GetRequired()}
	ty, diags := typeConstraint(block.GetType())
	if diags.HasErrors() {
		return nil, diags
	}
	out.ElementType = ty
	if out.TypeName == "" {
		return nil, append(diags, errDiag("Missing name in block_attrs spec",
			"The name attribute is required, to specify the block attr name that is expected in an input HCL file.")...)
	}
	return out, diags
}

func convertBlockList(block *hclspec.BlockList, impliedName string) (hcldec.Spec, hcl.Diagnostics) {
	out := &hcldec.BlockListSpec{
		TypeName: pick(block.GetName(), impliedName),
		MinItems: int(block.GetMinItems()),
		MaxItems: int(block.GetMaxItems()),
	}
	nested, diags := convertNested(block.GetNested())
	out.Nested = nested
	if out.TypeName == "" {
		return nil, append(diags, errDiag("Missing name in block_list spec",
			"The name attribute is required, to specify the block type name that is expected in an input HCL file.")...)
	}
	return out, diags
}

func convertBlockSet(block *hclspec.BlockSet, impliedName string) (hcldec.Spec, hcl.Diagnostics) {
	out := &hcldec.BlockSetSpec{
		TypeName: pick(block.GetName(), impliedName),
		MinItems: int(block.GetMinItems()),
		MaxItems: int(block.GetMaxItems()),
	}
	nested, diags := convertNested(block.GetNested())
	out.Nested = nested
	if out.TypeName == "" {
		return nil, append(diags, errDiag("Missing name in block_set spec",
			"The name attribute is required, to specify the block type name that is expected in an input HCL file.")...)
	}
	return out, diags
}

func convertBlockMap(block *hclspec.BlockMap, impliedName string) (hcldec.Spec, hcl.Diagnostics) {
	out := &hcldec.BlockMapSpec{
		TypeName:   pick(block.GetName(), impliedName),
		LabelNames: block.GetLabels(),
	}
	nested, diags := convertNested(block.GetNested())
	out.Nested = nested
	if out.TypeName == "" {
		diags = append(diags, errDiag("Missing name in block_map spec",
			"The name attribute is required, to specify the block type name that is expected in an input HCL file.")...)
	}
	if len(out.LabelNames) < 1 {
		diags = append(diags, errDiag("Invalid block label name list",
			"A block_map must have at least one label specified.")...)
	}
	if !diags.HasErrors() && hcldec.ImpliedType(out).HasDynamicTypes() {
		diags = append(diags, errDiag("Invalid block_map spec",
			"A block_map spec may not contain attributes with type 'any'.")...)
	}
	if diags.HasErrors() {
		return nil, diags
	}
	return out, diags
}

func convertNested(spec *hclspec.Spec) (hcldec.Spec, hcl.Diagnostics) {
	if spec == nil {
		return nil, errDiag("Missing spec block",
			"A block spec must have exactly one child spec specifying how to decode block contents.")
	}
	return convertSpec(spec, "")
}

func convertLiteral(lit *hclspec.Literal) (hcldec.Spec, hcl.Diagnostics) {
	expr, diags := hclsyntax.ParseExpression([]byte(lit.GetValue()), "proto", specPos)
	if diags.HasErrors() {
		return nil, diags
	}
	val, valDiags := expr.Value(literalEvalContext)
	diags = append(diags, valDiags...)
	if diags.HasErrors() {
		return nil, diags
	}
	return &hcldec.LiteralSpec{Value: val}, diags
}

func convertDefault(def *hclspec.Default) (hcldec.Spec, hcl.Diagnostics) {
	// The primary is converted without an implied name, as Nomad does: an
	// Attr there must carry its own name.
	primary, diags := convertSpec(def.GetPrimary(), "")
	if diags.HasErrors() {
		return nil, diags
	}
	fallback, d := convertSpec(def.GetDefault(), "")
	diags = append(diags, d...)
	if diags.HasErrors() {
		return nil, diags
	}
	return &hcldec.DefaultSpec{Primary: primary, Default: fallback}, diags
}

func typeConstraint(text string) (cty.Type, hcl.Diagnostics) {
	expr, diags := hclsyntax.ParseExpression([]byte(text), "proto", specPos)
	if diags.HasErrors() {
		return cty.NilType, diags
	}
	return typeexpr.TypeConstraint(expr)
}

func pick(explicit, implied string) string {
	if explicit != "" {
		return explicit
	}
	return implied
}

func errDiag(summary, detail string) hcl.Diagnostics {
	return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: summary, Detail: detail}}
}
