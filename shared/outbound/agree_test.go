package outbound

import (
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// The job contract has two statements, schema/outbound-job.schema.json
// (published for the core) and Validate (what the sender enforces). These
// tests hold them together in both directions:
//
//   - TestSchemaRulesAgreeWithValidate walks the schema beside valid jobs
//     and, for every rule it meets (type, length, pattern, enum, range,
//     item count, required, unknown keys, conditional keys), makes jobs at
//     and past the rule's edge; the schema and Decode+Validate must give
//     the same verdict on each. Every rule of the schema must be reached,
//     so a rule added to the schema is tested against Validate at once.
//   - TestSchemaAgreesWithValidateCases runs Validate's own table through
//     the schema: what Validate refuses the schema refuses, what it accepts
//     the schema accepts; TestEveryValidateRuleHasACase makes sure that
//     table breaks every rule validate.go states.
//
// Validate may refuse what the schema accepts only for the rules listed in
// validateOnly, which a JSON Schema cannot state.
var validateOnly = []struct{ problem, why string }{
	{"s3 key must", "the key's prefix depends on tenant_id, and its segments must be plain"},
	{"s3 reference must be s3://bucket/key", "bucket and key are split by the first slash"},
	{"must be unique", "reply button ids and titles are unique within the message"},
	{"is not unique", "list row ids are unique across sections"},
	{"rows in total", "a list holds at most 10 rows across all its sections"},
	{"URL has no host", "a URL's host is found by parsing it"},
	{"not a URL", "a URL is checked by parsing it"},
	{"url must be an http(s) URL", "a URL is checked by parsing it"},
	{"must be the sum of the items", "an order's subtotal is the sum of its items' prices times quantities"},
	{"must be subtotal + tax", "an order's total is subtotal + tax + shipping - discount"},
	{"products in total", "a multi-product message holds at most 30 products across its sections"},
	{"card_index", "a carousel's card_index values are unique"},
	{"birthday must be a date", "the schema's pattern bounds month and day; whether the month has that day is checked by parsing the date"},
}

// emptyInJSONOnly are cases of an empty object or array that encoding a
// Job leaves out (omitempty), so the schema never sees them from the
// case; TestSchemaRulesAgreeWithValidate empties the same values in JSON
// (minProperties, minItems) and holds the two together there.
var emptyInJSONOnly = map[string]string{
	"flow payload with empty data":            "data: {} is dropped when the Job is encoded",
	"flow action data empty":                  "flow_action_data: {} is dropped when the Job is encoded",
	"multi-product template without sections": "sections: [] is dropped when the Job is encoded",
}

// agreementSeeds are valid jobs: every sample event, every job built from
// Meta's examples, and the valid jobs of Validate's table.
func agreementSeeds(t *testing.T) map[string]any {
	t.Helper()
	seeds := map[string]any{}
	files, _ := filepath.Glob("../../events/sender/*.json")
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var ev events.SQSEvent
		if err := json.Unmarshal(raw, &ev); err != nil {
			t.Fatal(err)
		}
		seeds["event "+filepath.Base(f)] = mustJSON(t, []byte(ev.Records[0].Body))
	}
	specs, _ := filepath.Glob("testdata/spec/*.json")
	for _, f := range specs {
		seeds["spec "+filepath.Base(f)] = mustJSON(t, jobFor(t, loadExample(t, f)))
	}
	for _, c := range validateCases {
		if c.wantErr == "" {
			b, _ := json.Marshal(c.job())
			seeds["case "+c.name] = mustJSON(t, b)
		}
	}
	if len(seeds) < 40 {
		t.Fatalf("only %d seeds", len(seeds))
	}
	return seeds
}

func mustJSON(t *testing.T, b []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// verdicts are the schema's and Validate's answers to one document.
type verdicts struct {
	schemaErr   error
	validateErr error
}

func judge(sch *jsonschema.Schema, doc any) verdicts {
	b, _ := json.Marshal(doc)
	var v verdicts
	inst, _ := jsonschema.UnmarshalJSON(strings.NewReader(string(b)))
	v.schemaErr = sch.Validate(inst)
	j, err := Decode(b)
	if err == nil {
		err = Validate(j)
	}
	v.validateErr = err
	return v
}

// disagreement explains why two verdicts do not agree, or is "".
func (v verdicts) disagreement() string {
	switch {
	case v.schemaErr == nil && v.validateErr != nil:
		if allValidateOnly(v.validateErr) {
			return ""
		}
		return "the schema accepts it, Validate refuses: " + v.validateErr.Error()
	case v.schemaErr != nil && v.validateErr == nil:
		return "Validate accepts it, the schema refuses: " + firstLine(v.schemaErr)
	}
	return ""
}

func allValidateOnly(err error) bool {
	var ve *ValidationError
	if !errors.As(err, &ve) {
		return false
	}
	for _, p := range ve.Problems {
		if !slices.ContainsFunc(validateOnly, func(o struct{ problem, why string }) bool { return strings.Contains(p, o.problem) }) {
			return false
		}
	}
	return true
}

func firstLine(err error) string {
	s := err.Error()
	if i := strings.Index(s, "\n"); i >= 0 {
		s = strings.ReplaceAll(s[i+1:], "\n", " ")
	}
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// agreement walks the schema and documents together.
type agreement struct {
	t       *testing.T
	root    map[string]any
	sch     *jsonschema.Schema
	sub     map[string]*jsonschema.Schema // compiled "if" schemas by pointer
	comp    *jsonschema.Compiler
	samples map[string][]any // property name → values seen in the seeds
	reached map[string]bool  // "pointer keyword" → a case was made for it
	rules   map[string]bool  // every "pointer keyword" of the schema
	cases   int
	fails   []string
}

// ruleKeywords are the schema keywords that state a rule.
var ruleKeywords = []string{"type", "maxLength", "minLength", "pattern", "enum", "const", "minimum", "maximum",
	"minItems", "maxItems", "required", "additionalProperties", "oneOf", "not", "minProperties", "if", "false"}

func TestSchemaRulesAgreeWithValidate(t *testing.T) {
	f, err := os.ReadFile("../../schema/outbound-job.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	var root map[string]any
	if err := json.Unmarshal(f, &root); err != nil {
		t.Fatal(err)
	}
	doc, _ := jsonschema.UnmarshalJSON(strings.NewReader(string(f)))
	comp := jsonschema.NewCompiler()
	if err := comp.AddResource("outbound-job.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	a := &agreement{t: t, root: root, sch: compileJobSchema(t), comp: comp, sub: map[string]*jsonschema.Schema{},
		samples: map[string][]any{}, reached: map[string]bool{}, rules: map[string]bool{}}
	a.collectRules("#", root)
	seeds := agreementSeeds(t)
	names := make([]string, 0, len(seeds))
	for n := range seeds {
		names = append(names, n)
		collectSamples(seeds[n], a.samples)
	}
	sort.Strings(names)
	for _, notObject := range []any{"x", []any{}, nil, 1.0} {
		a.reached["# type"] = true
		if d := judge(a.sch, notObject).disagreement(); d != "" || judge(a.sch, notObject).schemaErr == nil {
			t.Errorf("a job that is %v: %s", notObject, d)
		}
	}
	for _, n := range names {
		if v := judge(a.sch, seeds[n]); v.schemaErr != nil || v.validateErr != nil {
			t.Errorf("seed %s is not valid: schema %v; Validate %v", n, v.schemaErr, v.validateErr)
			continue
		}
		a.walk(n, seeds[n], nil, "#", root)
	}
	for _, f := range a.fails {
		t.Error(f)
	}
	// The branches of oneOf and not are tried by the cases of the object
	// that holds them (keys added and taken away).
	for r := range a.reached {
		ptr, kw, _ := strings.Cut(r, " ")
		if kw == "oneOf" || kw == "not" {
			for rule := range a.rules {
				if strings.HasPrefix(rule, ptr+"/"+kw+"/") || strings.HasPrefix(rule, ptr+"/"+kw+" ") {
					a.reached[rule] = true
				}
			}
		}
	}
	var missed []string
	for r := range a.rules {
		if !a.reached[r] {
			missed = append(missed, r)
		}
	}
	sort.Strings(missed)
	for _, r := range missed {
		t.Errorf("schema rule %s is never tested: add a valid job reaching it (validateCases or events/sender)", r)
	}
	t.Logf("%d seeds, %d cases, %d rules", len(seeds), a.cases, len(a.rules))
}

// collectRules lists every rule keyword of the schema by pointer.
func (a *agreement) collectRules(ptr string, s any) {
	switch n := s.(type) {
	case bool:
		if !n {
			a.rules[ptr+" false"] = true
		}
	case map[string]any:
		for _, k := range ruleKeywords {
			if _, ok := n[k]; ok {
				a.rules[ptr+" "+k] = true
			}
		}
		for k, v := range n {
			switch k {
			case "properties", "$defs":
				for name, sub := range v.(map[string]any) {
					a.collectRules(ptr+"/"+k+"/"+name, sub)
				}
			case "items", "then", "not":
				a.collectRules(ptr+"/"+k, v)
			case "allOf", "oneOf":
				for i, sub := range v.([]any) {
					a.collectRules(fmt.Sprintf("%s/%s/%d", ptr, k, i), sub)
				}
			}
		}
	}
}

func collectSamples(v any, out map[string][]any) {
	switch x := v.(type) {
	case map[string]any:
		for k, sub := range x {
			out[k] = append(out[k], sub)
			collectSamples(sub, out)
		}
	case []any:
		for _, sub := range x {
			collectSamples(sub, out)
		}
	}
}

// try makes one case: seed with the value at path replaced (or, with
// remove, deleted) and compares the verdicts.
func (a *agreement) try(seed string, root any, path []any, rule, what string, mutate func(parent any, key any)) {
	a.reached[rule] = true
	doc := deepCopy(root)
	parent := doc
	for _, k := range path[:len(path)-1] {
		parent = child(parent, k)
	}
	mutate(parent, path[len(path)-1])
	a.cases++
	if d := judge(a.sch, doc).disagreement(); d != "" {
		a.fails = append(a.fails, fmt.Sprintf("%s, %s at %s (rule %s): %s", seed, what, pathString(path), rule, d))
	}
}

func (a *agreement) set(seed string, root any, path []any, rule, what string, v any) {
	a.try(seed, root, path, rule, what, func(parent, key any) { put(parent, key, v) })
}

func child(v any, k any) any {
	switch x := v.(type) {
	case map[string]any:
		return x[k.(string)]
	case []any:
		return x[k.(int)]
	}
	return nil
}

func put(parent any, key any, v any) {
	switch x := parent.(type) {
	case map[string]any:
		x[key.(string)] = v
	case []any:
		x[key.(int)] = v
	}
}

func deepCopy(v any) any {
	b, _ := json.Marshal(v)
	var out any
	_ = json.Unmarshal(b, &out)
	return out
}

func pathString(path []any) string {
	var b strings.Builder
	b.WriteString("$")
	for _, k := range path {
		if i, ok := k.(int); ok {
			fmt.Fprintf(&b, "[%d]", i)
		} else {
			b.WriteString("." + k.(string))
		}
	}
	return b.String()
}

func appendPath(path []any, k any) []any { return append(slices.Clip(path), k) }

// walk makes the cases of schema node s (at pointer ptr) for the value v at
// path of seed root, then walks into v.
func (a *agreement) walk(seed string, root any, path []any, ptr string, s any) {
	n, ok := s.(map[string]any)
	if !ok {
		return // true; false is reached by adding the property (below)
	}
	v := root
	for _, k := range path {
		v = child(v, k)
	}
	if ref, ok := n["$ref"].(string); ok {
		target := a.root
		for _, seg := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
			target = target[seg].(map[string]any)
		}
		a.walk(seed, root, path, ref, target)
	}
	a.valueRules(seed, root, path, ptr, n, v)
	if obj, isObj := v.(map[string]any); isObj {
		a.objectRules(seed, root, path, ptr, n, obj)
	}
	if arr, isArr := v.([]any); isArr {
		a.arrayRules(seed, root, path, ptr, n, arr)
		if items, ok := n["items"]; ok {
			for i := range arr {
				a.walk(seed, root, appendPath(path, i), ptr+"/items", items)
			}
		}
	}
	for i, sub := range anySlice(n["allOf"]) {
		a.walk(seed, root, path, fmt.Sprintf("%s/allOf/%d", ptr, i), sub)
	}
	if ifs, ok := n["if"]; ok {
		a.reached[ptr+" if"] = true
		if a.holds(ptr+"/if", ifs, v) {
			if then, ok := n["then"]; ok {
				a.walk(seed, root, path, ptr+"/then", then)
			}
		}
	}
}

func anySlice(v any) []any { s, _ := v.([]any); return s }

// holds reports whether v matches the "if" schema at ptr.
func (a *agreement) holds(ptr string, _ any, v any) bool {
	sch, ok := a.sub[ptr]
	if !ok {
		var err error
		sch, err = a.comp.Compile("outbound-job.schema.json" + ptr)
		if err != nil {
			a.t.Fatalf("compile %s: %v", ptr, err)
		}
		a.sub[ptr] = sch
	}
	b, _ := json.Marshal(v)
	inst, _ := jsonschema.UnmarshalJSON(strings.NewReader(string(b)))
	return sch.Validate(inst) == nil
}

// patternMisses are strings tried against a pattern; those it does not
// match make cases.
var patternMisses = []string{"", " ", "x", "0", "+1", "1a", "a:b", "wamid", "ftp://example.com/a", "s3:/a", "https://"}

// scalarProbes are the values tried where the schema combines rules on a
// scalar (oneOf, not).
var scalarProbes = []any{-1.0, 0.0, 9.0, 10.0, 1.5, "0", "9", "10", "01", "a", "", " ", true, nil,
	"https://example.com/card", "s3://data/tenants/demo/card", "S3://data/tenants/other/card"}

func (a *agreement) valueRules(seed string, root any, path []any, ptr string, n map[string]any, v any) {
	if len(path) == 0 {
		return
	}
	if typ, ok := n["type"]; ok {
		var wrong any
		switch typ {
		case "string":
			wrong = 12345
		case "number", "integer":
			wrong = "1"
		case "boolean":
			wrong = "true"
		case "object", "array":
			wrong = "x"
		default:
			wrong = true
		}
		a.set(seed, root, path, ptr+" type", "a value of the wrong type", wrong)
		if typ == "integer" {
			a.set(seed, root, path, ptr+" type", "a fraction", 1.5)
		}
	}
	if _, isString := v.(string); isString {
		if m, ok := n["maxLength"].(float64); ok {
			a.set(seed, root, path, ptr+" maxLength", "a string at the maximum length", strings.Repeat("é", int(m)))
			a.set(seed, root, path, ptr+" maxLength", "a string over the maximum length", strings.Repeat("é", int(m)+1))
		}
		if m, ok := n["minLength"].(float64); ok && m > 0 {
			a.set(seed, root, path, ptr+" minLength", "a string under the minimum length", strings.Repeat("x", int(m)-1))
			a.set(seed, root, path, ptr+" minLength", "a blank string", strings.Repeat(" ", int(m)))
		}
		if p, ok := n["pattern"].(string); ok {
			re := regexp.MustCompile(p)
			for _, s := range patternMisses {
				if !re.MatchString(s) {
					a.set(seed, root, path, ptr+" pattern", fmt.Sprintf("%q against /%s/", s, p), s)
				}
			}
		}
	}
	if e, ok := n["enum"].([]any); ok {
		a.set(seed, root, path, ptr+" enum", "a value outside the enum", "zz_not_listed")
		if s, ok := e[0].(string); ok && strings.ToUpper(s) != s {
			a.set(seed, root, path, ptr+" enum", "an enum value in capitals", strings.ToUpper(s))
		}
	}
	if c, ok := n["const"]; ok {
		a.set(seed, root, path, ptr+" const", "another value than the const", "zz_not_the_const")
		if s, ok := c.(string); ok {
			a.set(seed, root, path, ptr+" const", "the const in capitals", strings.ToUpper(s))
		}
	}
	switch v.(type) {
	case map[string]any, []any:
	default:
		// A scalar under oneOf or not: try values of every shape.
		for _, kw := range []string{"oneOf", "not"} {
			if _, ok := n[kw]; ok {
				for _, c := range scalarProbes {
					a.set(seed, root, path, ptr+" "+kw, fmt.Sprintf("%#v", c), c)
				}
			}
		}
	}
	if _, isNum := v.(float64); isNum {
		if m, ok := n["minimum"].(float64); ok {
			a.set(seed, root, path, ptr+" minimum", "the minimum", m)
			a.set(seed, root, path, ptr+" minimum", "under the minimum", m-0.5)
		}
		if m, ok := n["maximum"].(float64); ok {
			a.set(seed, root, path, ptr+" maximum", "the maximum", m)
			a.set(seed, root, path, ptr+" maximum", "over the maximum", m+0.5)
		}
	}
}

func (a *agreement) arrayRules(seed string, root any, path []any, ptr string, n map[string]any, arr []any) {
	if m, ok := n["minItems"].(float64); ok && m > 0 {
		a.set(seed, root, path, ptr+" minItems", "too few items", arr[:int(m)-1])
	}
	if m, ok := n["maxItems"].(float64); ok && len(arr) > 0 {
		long := slices.Clone(arr)
		for i := 0; len(long) < int(m)+1; i++ {
			long = append(long, deepCopy(arr[i%len(arr)]))
		}
		a.set(seed, root, path, ptr+" maxItems", "one item too many", long)
	}
}

func (a *agreement) objectRules(seed string, root any, path []any, ptr string, n map[string]any, obj map[string]any) {
	for _, r := range anySlice(n["required"]) {
		if _, present := obj[r.(string)]; present {
			a.try(seed, root, appendPath(path, r), ptr+" required", "without required "+r.(string), func(parent, key any) {
				delete(parent.(map[string]any), key.(string))
			})
		}
	}
	props, _ := n["properties"].(map[string]any)
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if m, ok := n["minProperties"].(float64); ok && m > 0 {
		a.set(seed, root, path, ptr+" minProperties", "an empty object", map[string]any{})
	}
	if ap, ok := n["additionalProperties"].(map[string]any); ok && ap["type"] == "string" {
		a.set(seed, root, appendPath(path, "zz_extra"), ptr+" additionalProperties", "an extra key that is not a string", 12345)
		a.set(seed, root, appendPath(path, "zz_extra"), ptr+" additionalProperties", "an extra key with a string", "x")
	}
	if ap, ok := n["additionalProperties"].(bool); ok && !ap {
		a.set(seed, root, appendPath(path, "zz_unknown"), ptr+" additionalProperties", "an unknown key", "x")
		if len(keys) > 0 {
			k := keys[0]
			a.set(seed, root, appendPath(path, strings.ToUpper(k[:1])+k[1:]), ptr+" additionalProperties", "a key in another case", obj[k])
		}
	}
	// Declared keys absent here, with values seen elsewhere; present ones
	// taken away. Conditional rules (oneOf, not, if/then, false) decide.
	rules := []string{}
	for _, k := range []string{"oneOf", "not", "minProperties", "if"} {
		if _, ok := n[k]; ok {
			rules = append(rules, ptr+" "+k)
		}
	}
	names := make([]string, 0, len(props))
	for name := range props {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		rule := ptr + "/properties/" + name
		if b, ok := props[name].(bool); ok && !b {
			rule += " false"
		} else if len(rules) > 0 {
			rule = rules[0]
		}
		if _, present := obj[name]; present {
			a.try(seed, root, appendPath(path, name), rule, "without "+name, func(parent, key any) {
				delete(parent.(map[string]any), key.(string))
			})
			for _, r := range rules {
				a.reached[r] = true
			}
			continue
		}
		for i, sample := range a.samples[name] {
			if i == 3 {
				break
			}
			a.set(seed, root, appendPath(path, name), rule, "with "+name+" added", deepCopy(sample))
		}
		for _, r := range rules {
			a.reached[r] = true
		}
	}
	for _, k := range keys {
		if sub, ok := props[k]; ok {
			a.walk(seed, root, appendPath(path, k), ptr+"/properties/"+k, sub)
		}
	}
}

// TestSchemaAgreesWithValidateCases: Validate's table through the schema.
func TestSchemaAgreesWithValidateCases(t *testing.T) {
	sch := compileJobSchema(t)
	for _, c := range validateCases {
		t.Run(c.name, func(t *testing.T) {
			if why, ok := emptyInJSONOnly[c.name]; ok {
				t.Skip(why)
			}
			b, _ := json.Marshal(c.job())
			v := judge(sch, mustJSON(t, b))
			if (v.validateErr == nil) != (c.wantErr == "") {
				t.Fatalf("Validate = %v; the case expects %q", v.validateErr, c.wantErr)
			}
			if d := v.disagreement(); d != "" {
				t.Errorf("%s: %s", b, d)
			}
		})
	}
}

// TestEveryValidateRuleHasACase finds every rule Validate states (each
// call of addf, required, maxChars or wamid in validate.go, outside those
// helpers) and checks that some row of validateCases breaks it, so that
// TestSchemaAgreesWithValidateCases holds the schema to it: a rule added
// to Validate without a case, and so without a check against the schema,
// fails here.
func TestEveryValidateRuleHasACase(t *testing.T) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "validate.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	src, _ := os.ReadFile("validate.go")
	lines := strings.Split(string(src), "\n")
	helpers := map[string]bool{"addf": true, "required": true, "maxChars": true, "wamid": true}
	rules := map[int]bool{}
	for _, d := range f.Decls {
		fn, ok := d.(*ast.FuncDecl)
		if !ok || (fn.Recv != nil && helpers[fn.Name.Name]) {
			continue
		}
		ast.Inspect(fn, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			if sel, ok := call.Fun.(*ast.SelectorExpr); ok && helpers[sel.Sel.Name] {
				if id, ok := sel.X.(*ast.Ident); ok && id.Name == "c" {
					rules[fset.Position(call.Pos()).Line] = true
				}
			}
			return true
		})
	}
	if len(rules) < 50 {
		t.Fatalf("found only %d rules in validate.go", len(rules))
	}
	hit := map[int]bool{}
	for _, c := range validateCases {
		var ve *ValidationError
		if err := Validate(c.job()); errors.As(err, &ve) {
			for _, r := range ve.rules {
				hit[r] = true
			}
		}
	}
	var missed []int
	for r := range rules {
		if !hit[r] {
			missed = append(missed, r)
		}
	}
	sort.Ints(missed)
	for _, r := range missed {
		t.Errorf("validate.go:%d has no case in validateCases: %s", r, strings.TrimSpace(lines[r-1]))
	}
}
