// tfrender parses a Terraform module with the real HCL parser (hashicorp/hcl/v2), checks that
// every .tf file is in canonical `terraform fmt` form, and evaluates what can be known without
// providers: variable defaults, locals, each resource's arguments and the outputs. It prints
// them as JSON so tests can apply exactly the manifest Terraform would send.
//
//	tfrender [-var name=value]... <module-dir>
//
// Functions are Terraform's own where Terraform takes them from a library: yamldecode and
// yamlencode from zclconf/go-cty-yaml, the rest from go-cty's stdlib. file() reads relative to
// the working directory and path.module is <module-dir> as given, as in Terraform.
//
// Beside `tofu validate` (provider schema; test/ops/tools.sh builds OpenTofu and the provider),
// this renders without a cluster: a kubernetes_manifest plan needs API access and the CRD.
// Exit status: 0 ok, 1 diagnostics (file:line:col), 2 usage.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty-yaml"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

var moduleSchema = &hcl.BodySchema{
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "terraform"},
		{Type: "variable", LabelNames: []string{"name"}},
		{Type: "locals"},
		{Type: "resource", LabelNames: []string{"type", "name"}},
		{Type: "data", LabelNames: []string{"type", "name"}},
		{Type: "output", LabelNames: []string{"name"}},
		{Type: "provider", LabelNames: []string{"name"}},
		{Type: "module", LabelNames: []string{"name"}},
	},
}

var variableSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "description"}, {Name: "type"}, {Name: "default"}, {Name: "sensitive"}, {Name: "nullable"}},
	Blocks:     []hcl.BlockHeaderSchema{{Type: "validation"}},
}

var outputSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "value", Required: true}, {Name: "description"}, {Name: "sensitive"}, {Name: "depends_on"}},
	Blocks:     []hcl.BlockHeaderSchema{{Type: "precondition"}},
}

// Meta-arguments every resource accepts; they are not rendered.
var resourceMeta = map[string]bool{"count": true, "for_each": true, "provider": true, "depends_on": true}

type varFlags map[string]string

func (v varFlags) String() string { return "" }
func (v varFlags) Set(s string) error {
	name, value, ok := strings.Cut(s, "=")
	if !ok {
		return fmt.Errorf("want name=value, got %q", s)
	}
	v[name] = value
	return nil
}

type rendered struct {
	Files     []string                              `json:"files"`
	Variables map[string]json.RawMessage            `json:"variables"`
	Locals    map[string]json.RawMessage            `json:"locals"`
	Resources map[string]map[string]json.RawMessage `json:"resources"`
	Outputs   map[string]json.RawMessage            `json:"outputs"`
}

func main() {
	vars := varFlags{}
	flag.Var(vars, "var", "set a string variable, name=value (repeatable)")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: tfrender [-var name=value]... <module-dir>")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	out, diags := render(flag.Arg(0), vars)
	if diags.HasErrors() {
		for _, d := range diags {
			where := "-"
			if d.Subject != nil {
				where = fmt.Sprintf("%s:%d:%d", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column)
			}
			fmt.Fprintf(os.Stderr, "%s: %s: %s\n", where, d.Summary, d.Detail)
		}
		os.Exit(1)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func render(dir string, setVars map[string]string) (*rendered, hcl.Diagnostics) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.tf"))
	if err != nil || len(paths) == 0 {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "no .tf files", Detail: "found no *.tf in " + dir}}
	}
	sort.Strings(paths)
	parser := hclparse.NewParser()
	var diags hcl.Diagnostics
	var bodies []*hcl.BodyContent
	for _, p := range paths {
		f, d := parser.ParseHCLFile(p)
		diags = append(diags, d...)
		if f == nil || d.HasErrors() {
			continue
		}
		if canonical := hclwrite.Format(f.Bytes); !bytes.Equal(canonical, f.Bytes) {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError, Summary: "not in canonical format",
				Detail:  "run `terraform fmt` (or `tofu fmt`) on this file",
				Subject: &hcl.Range{Filename: p, Start: hcl.InitialPos, End: hcl.InitialPos},
			})
		}
		content, d := f.Body.Content(moduleSchema)
		diags = append(diags, d...)
		bodies = append(bodies, content)
	}
	if diags.HasErrors() {
		return nil, diags
	}

	out := &rendered{Files: paths, Variables: map[string]json.RawMessage{}, Locals: map[string]json.RawMessage{},
		Resources: map[string]map[string]json.RawMessage{}, Outputs: map[string]json.RawMessage{}}
	variables := map[string]cty.Value{}
	var localAttrs []*hcl.Attribute
	type resourceBlock struct {
		key   string
		kind  string
		name  string
		attrs hcl.Attributes
	}
	var resources []resourceBlock
	var outputs []*hcl.Block

	for _, content := range bodies {
		for _, b := range content.Blocks {
			switch b.Type {
			case "variable":
				v, d := variableValue(b, setVars)
				diags = append(diags, d...)
				variables[b.Labels[0]] = v
			case "locals":
				attrs, d := b.Body.JustAttributes()
				diags = append(diags, d...)
				for _, a := range attrs {
					localAttrs = append(localAttrs, a)
				}
			case "resource":
				// Nested blocks (lifecycle, wait, timeouts...) are allowed and not rendered.
				attrs, d := resourceAttributes(b.Body)
				diags = append(diags, d...)
				resources = append(resources, resourceBlock{key: b.Labels[0] + "." + b.Labels[1], kind: b.Labels[0], name: b.Labels[1], attrs: attrs})
			case "output":
				outputs = append(outputs, b)
			}
		}
	}
	if diags.HasErrors() {
		return nil, diags
	}

	ctx := &hcl.EvalContext{
		Variables: map[string]cty.Value{
			"var":  objectOrEmpty(variables),
			"path": cty.ObjectVal(map[string]cty.Value{"module": cty.StringVal(dir), "root": cty.StringVal(dir), "cwd": cty.StringVal(".")}),
		},
		Functions: functions(),
	}

	// Locals may refer to each other in any order: evaluate until nothing new resolves.
	locals := map[string]cty.Value{}
	pending := localAttrs
	for len(pending) > 0 {
		ctx.Variables["local"] = objectOrEmpty(locals)
		var next []*hcl.Attribute
		var lastDiags hcl.Diagnostics
		for _, a := range pending {
			v, d := a.Expr.Value(ctx)
			if d.HasErrors() {
				next = append(next, a)
				lastDiags = append(lastDiags, d...)
				continue
			}
			locals[a.Name] = v
		}
		if len(next) == len(pending) {
			return nil, append(diags, lastDiags...)
		}
		pending = next
	}
	ctx.Variables["local"] = objectOrEmpty(locals)

	byType := map[string]map[string]cty.Value{}
	for _, r := range resources {
		values := map[string]cty.Value{}
		out.Resources[r.key] = map[string]json.RawMessage{}
		for name, a := range r.attrs {
			if resourceMeta[name] {
				continue
			}
			v, d := a.Expr.Value(ctx)
			diags = append(diags, d...)
			if d.HasErrors() {
				continue
			}
			values[name] = v
			out.Resources[r.key][name] = mustJSON(v, a.Expr.Range(), &diags)
		}
		if byType[r.kind] == nil {
			byType[r.kind] = map[string]cty.Value{}
		}
		byType[r.kind][r.name] = objectOrEmpty(values)
	}
	if diags.HasErrors() {
		return nil, diags // outputs would only repeat the resource's errors
	}
	for kind, byName := range byType {
		ctx.Variables[kind] = cty.ObjectVal(byName)
	}

	for _, b := range outputs {
		content, d := b.Body.Content(outputSchema)
		diags = append(diags, d...)
		if d.HasErrors() {
			continue
		}
		v, d := content.Attributes["value"].Expr.Value(ctx)
		diags = append(diags, d...)
		if !d.HasErrors() {
			out.Outputs[b.Labels[0]] = mustJSON(v, content.Attributes["value"].Expr.Range(), &diags)
		}
	}
	for name, v := range variables {
		out.Variables[name] = mustJSON(v, hcl.Range{}, &diags)
	}
	for name, v := range locals {
		out.Locals[name] = mustJSON(v, hcl.Range{}, &diags)
	}
	return out, diags
}

func variableValue(b *hcl.Block, setVars map[string]string) (cty.Value, hcl.Diagnostics) {
	content, diags := b.Body.Content(variableSchema)
	if diags.HasErrors() {
		return cty.DynamicVal, diags
	}
	want := cty.DynamicPseudoType
	if a, ok := content.Attributes["type"]; ok {
		t, d := typeexpr.TypeConstraint(a.Expr)
		diags = append(diags, d...)
		if d.HasErrors() {
			return cty.DynamicVal, diags
		}
		want = t
	}
	name := b.Labels[0]
	var v cty.Value
	rng := b.DefRange
	if s, ok := setVars[name]; ok {
		v = cty.StringVal(s)
	} else if a, ok := content.Attributes["default"]; ok {
		var d hcl.Diagnostics
		v, d = a.Expr.Value(nil)
		diags = append(diags, d...)
		rng = a.Expr.Range()
	} else {
		return cty.DynamicVal, append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "variable has no default",
			Detail: fmt.Sprintf("variable %q needs a value: pass -var %s=...", name, name), Subject: &b.DefRange})
	}
	converted, err := convert.Convert(v, want)
	if err != nil {
		return cty.DynamicVal, append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "invalid value for variable " + name,
			Detail: err.Error(), Subject: &rng})
	}
	return converted, diags
}

// resourceAttributes returns a resource's arguments. Nested blocks (lifecycle, wait, timeouts)
// are allowed and not rendered, so JustAttributes, which rejects blocks, cannot be used.
func resourceAttributes(body hcl.Body) (hcl.Attributes, hcl.Diagnostics) {
	sb, ok := body.(*hclsyntax.Body)
	if !ok {
		return body.JustAttributes()
	}
	attrs := hcl.Attributes{}
	for name, a := range sb.Attributes {
		attrs[name] = a.AsHCLAttribute()
	}
	return attrs, nil
}

func functions() map[string]function.Function {
	return map[string]function.Function{
		"file":       fileFunc,
		"yamldecode": yaml.YAMLDecodeFunc,
		"yamlencode": yaml.YAMLEncodeFunc,
		"jsondecode": stdlib.JSONDecodeFunc,
		"jsonencode": stdlib.JSONEncodeFunc,
		"merge":      stdlib.MergeFunc,
		"flatten":    stdlib.FlattenFunc,
		"concat":     stdlib.ConcatFunc,
		"length":     stdlib.LengthFunc,
		"keys":       stdlib.KeysFunc,
		"values":     stdlib.ValuesFunc,
		"lookup":     stdlib.LookupFunc,
		"format":     stdlib.FormatFunc,
		"join":       stdlib.JoinFunc,
		"lower":      stdlib.LowerFunc,
		"upper":      stdlib.UpperFunc,
		"trimspace":  stdlib.TrimSpaceFunc,
		"tostring":   stdlib.MakeToFunc(cty.String),
		"tonumber":   stdlib.MakeToFunc(cty.Number),
		"tomap":      stdlib.MakeToFunc(cty.Map(cty.DynamicPseudoType)),
	}
}

var fileFunc = function.New(&function.Spec{
	Params: []function.Parameter{{Name: "path", Type: cty.String}},
	Type:   function.StaticReturnType(cty.String),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		b, err := os.ReadFile(args[0].AsString())
		if err != nil {
			return cty.NilVal, err
		}
		return cty.StringVal(string(b)), nil
	},
})

func objectOrEmpty(m map[string]cty.Value) cty.Value {
	if len(m) == 0 {
		return cty.EmptyObjectVal
	}
	return cty.ObjectVal(m)
}

func mustJSON(v cty.Value, rng hcl.Range, diags *hcl.Diagnostics) json.RawMessage {
	if !v.IsWhollyKnown() {
		return json.RawMessage(`"(known after apply)"`)
	}
	b, err := ctyjson.Marshal(v, v.Type())
	if err != nil {
		*diags = append(*diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "cannot render value", Detail: err.Error(), Subject: &rng})
		return nil
	}
	return b
}
