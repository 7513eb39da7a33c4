package graphsim

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"sort"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"
)

// specYAML is Meta's OpenAPI file, byte for byte (spec/SOURCES.md has its
// origin and sha256). The simulator reads its Message schema and the
// sendMessage examples from it; what the file gets wrong is patched in
// memory by specPatches, never in the file.
//
//go:embed spec/business-messaging-api_v23.0.yaml
var specYAML []byte

// messageSpec is the spec as the simulator uses it.
type messageSpec struct {
	// byType is the Message schema of each message type (the spec's
	// discriminator mapping on `type`), compiled after specPatches.
	byType map[string]*jsonschema.Schema
	// examples are the request examples of POST /{Phone-Number-ID}/messages,
	// by name, as JSON.
	examples map[string][]byte
}

var loadSpec = sync.OnceValues(func() (*messageSpec, error) {
	doc, err := specDocument()
	if err != nil {
		return nil, err
	}
	schemas, err := dig[map[string]any](doc, "components", "schemas")
	if err != nil {
		return nil, err
	}
	for _, p := range specPatches {
		if err := p.apply(schemas); err != nil {
			return nil, fmt.Errorf("spec patch %q: %w", p.name, err)
		}
	}
	mapping, err := dig[map[string]any](schemas, "Message", "discriminator", "mapping")
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	if err := c.AddResource("spec.json", doc); err != nil {
		return nil, fmt.Errorf("spec: %w", err)
	}
	sp := &messageSpec{byType: map[string]*jsonschema.Schema{}, examples: map[string][]byte{}}
	for typ, ref := range mapping {
		r, _ := ref.(string)
		if sp.byType[typ], err = c.Compile("spec.json" + r); err != nil {
			return nil, fmt.Errorf("spec: compile %s: %w", r, err)
		}
	}
	examples, err := dig[map[string]any](doc, "paths", "/{Version}/{Phone-Number-ID}/messages", "post", "requestBody", "content", "application/json", "examples")
	if err != nil {
		return nil, err
	}
	for name, ex := range examples {
		v, _ := ex.(map[string]any)
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v["value"]); err != nil {
			return nil, fmt.Errorf("spec example %q: %w", name, err)
		}
		sp.examples[name] = bytes.TrimSpace(b.Bytes())
	}
	return sp, nil
})

// specDocument parses the YAML file into JSON values (objects with string
// keys, json.Number numbers), as the schema compiler takes them.
func specDocument() (map[string]any, error) {
	var raw any
	if err := yaml.Unmarshal(specYAML, &raw); err != nil {
		return nil, fmt.Errorf("spec: %w", err)
	}
	b, err := json.Marshal(jsonValue(raw))
	if err != nil {
		return nil, fmt.Errorf("spec: %w", err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("spec: %w", err)
	}
	m, ok := doc.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("spec: not an object")
	}
	return m, nil
}

// jsonValue turns YAML maps with non-string keys (response codes) into
// JSON objects.
func jsonValue(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, c := range v {
			v[k] = jsonValue(c)
		}
		return v
	case map[any]any:
		m := make(map[string]any, len(v))
		for k, c := range v {
			m[fmt.Sprint(k)] = jsonValue(c)
		}
		return m
	case []any:
		for i, c := range v {
			v[i] = jsonValue(c)
		}
	}
	return v
}

// dig walks objects by key.
func dig[T any](v any, path ...string) (T, error) {
	var zero T
	for i, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return zero, fmt.Errorf("spec: %v is not an object", path[:i])
		}
		if v, ok = m[k]; !ok {
			return zero, fmt.Errorf("spec: %v not found", path[:i+1])
		}
	}
	t, ok := v.(T)
	if !ok {
		return zero, fmt.Errorf("spec: %v has an unexpected type", path)
	}
	return t, nil
}

// specExampleNames lists the spec's sendMessage request examples.
func specExampleNames() ([]string, error) {
	sp, err := loadSpec()
	if err != nil {
		return nil, err
	}
	var names []string
	for n := range sp.examples {
		names = append(names, n)
	}
	sort.Strings(names)
	return names, nil
}
