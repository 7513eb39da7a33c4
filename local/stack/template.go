// Package stack reads template.yaml with a real YAML parser (SAM's short
// intrinsics such as !Ref, !GetAtt and !Sub included) and creates what it
// declares — tables, queues with their dead-letter queues, the bucket and
// the secrets — in an AWS endpoint, so the template stays the single source
// of truth for the local connector and the tests. It also resolves each
// function's environment and event sources from the template.
package stack

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Template is a parsed SAM template, intrinsics in their long JSON form
// (map{"Ref": x}, map{"Fn::GetAtt": [a, b]}, map{"Fn::Sub": s}, ...).
type Template struct {
	Parameters map[string]map[string]any
	Conditions map[string]any
	Globals    map[string]any
	Resources  map[string]Resource
}

// Resource is one entry of Resources.
type Resource struct {
	Type       string
	Properties map[string]any
	Metadata   map[string]any
}

// Load parses the template at path.
func Load(path string) (*Template, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read template: %w", err)
	}
	return Parse(b)
}

// Parse parses template bytes.
func Parse(b []byte) (*Template, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(b, &root); err != nil {
		return nil, fmt.Errorf("parse template: %w", err)
	}
	if len(root.Content) == 0 {
		return nil, fmt.Errorf("parse template: empty document")
	}
	doc, ok := toValue(root.Content[0]).(map[string]any)
	if !ok {
		return nil, fmt.Errorf("parse template: top level is not a mapping")
	}
	t := &Template{Parameters: map[string]map[string]any{}, Resources: map[string]Resource{}}
	if ps, ok := doc["Parameters"].(map[string]any); ok {
		for k, v := range ps {
			m, _ := v.(map[string]any)
			t.Parameters[k] = m
		}
	}
	t.Conditions, _ = doc["Conditions"].(map[string]any)
	t.Globals, _ = doc["Globals"].(map[string]any)
	rs, ok := doc["Resources"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("parse template: no Resources")
	}
	for id, v := range rs {
		m, _ := v.(map[string]any)
		r := Resource{}
		r.Type, _ = m["Type"].(string)
		r.Properties, _ = m["Properties"].(map[string]any)
		r.Metadata, _ = m["Metadata"].(map[string]any)
		if r.Properties == nil {
			r.Properties = map[string]any{}
		}
		t.Resources[id] = r
	}
	return t, nil
}

// OfType returns the logical ids of resources of type typ, sorted.
func (t *Template) OfType(typ string) []string {
	var ids []string
	for id, r := range t.Resources {
		if r.Type == typ {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

// toValue converts a YAML node to plain Go values, turning CloudFormation
// short-form tags into their long form.
func toValue(n *yaml.Node) any {
	var v any
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) > 0 {
			return toValue(n.Content[0])
		}
		return nil
	case yaml.AliasNode:
		return toValue(n.Alias)
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			m[n.Content[i].Value] = toValue(n.Content[i+1])
		}
		v = m
	case yaml.SequenceNode:
		s := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			s = append(s, toValue(c))
		}
		v = s
	case yaml.ScalarNode:
		if strings.HasPrefix(n.Tag, "!!") || n.Tag == "" {
			var x any
			if err := n.Decode(&x); err == nil {
				v = x
			} else {
				v = n.Value
			}
		} else {
			v = n.Value
		}
	}
	switch tag := n.Tag; {
	case tag == "!Ref":
		return map[string]any{"Ref": v}
	case tag == "!GetAtt":
		if s, ok := v.(string); ok {
			a, b, _ := strings.Cut(s, ".")
			return map[string]any{"Fn::GetAtt": []any{a, b}}
		}
		return map[string]any{"Fn::GetAtt": v}
	case tag == "!Condition":
		return map[string]any{"Condition": v}
	case strings.HasPrefix(tag, "!") && !strings.HasPrefix(tag, "!!"):
		return map[string]any{"Fn::" + tag[1:]: v}
	}
	return v
}
