package stack

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Names are the physical names and addresses of a provisioned stack,
// by logical id.
type Names struct {
	Region    string
	AccountID string
	StackName string
	// Params are parameter values (defaults with overrides applied).
	Params map[string]string
	// Ref is what !Ref of a resource gives: queue URL, table name, bucket
	// name, secret ARN.
	Ref map[string]string
	// Att is what !GetAtt gives, keyed "LogicalId.Attribute".
	Att map[string]string
}

// Resolve evaluates intrinsics in v (Ref, Fn::GetAtt, Fn::Sub, Fn::Join,
// Fn::If is not supported) and returns a string.
func (n *Names) Resolve(v any) (string, error) {
	switch x := v.(type) {
	case nil:
		return "", nil
	case string:
		return x, nil
	case int, int64, float64, bool:
		return fmt.Sprint(x), nil
	case map[string]any:
		if r, ok := x["Ref"]; ok {
			return n.ref(fmt.Sprint(r))
		}
		if g, ok := x["Fn::GetAtt"]; ok {
			parts, _ := g.([]any)
			if len(parts) != 2 {
				return "", fmt.Errorf("Fn::GetAtt needs two parts, got %v", g)
			}
			return n.att(fmt.Sprint(parts[0]), fmt.Sprint(parts[1]))
		}
		if s, ok := x["Fn::Sub"]; ok {
			return n.sub(s)
		}
		if j, ok := x["Fn::Join"]; ok {
			parts, _ := j.([]any)
			if len(parts) != 2 {
				return "", fmt.Errorf("Fn::Join needs [sep, list]")
			}
			list, _ := parts[1].([]any)
			var out []string
			for _, e := range list {
				s, err := n.Resolve(e)
				if err != nil {
					return "", err
				}
				out = append(out, s)
			}
			return strings.Join(out, fmt.Sprint(parts[0])), nil
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		return "", fmt.Errorf("unsupported intrinsic %v", keys)
	}
	return "", fmt.Errorf("cannot resolve %T", v)
}

func (n *Names) ref(name string) (string, error) {
	switch name {
	case "AWS::Region":
		return n.Region, nil
	case "AWS::AccountId":
		return n.AccountID, nil
	case "AWS::StackName":
		return n.StackName, nil
	case "AWS::Partition":
		return "aws", nil
	case "AWS::URLSuffix":
		return "amazonaws.com", nil
	case "AWS::NoValue":
		return "", nil
	}
	if v, ok := n.Params[name]; ok {
		return v, nil
	}
	if v, ok := n.Ref[name]; ok {
		return v, nil
	}
	return "", fmt.Errorf("Ref to unknown name %q", name)
}

func (n *Names) att(id, attr string) (string, error) {
	if v, ok := n.Att[id+"."+attr]; ok {
		return v, nil
	}
	return "", fmt.Errorf("Fn::GetAtt %s.%s is not known locally", id, attr)
}

var subVar = regexp.MustCompile(`\$\{([^}!]+)\}`)

func (n *Names) sub(v any) (string, error) {
	var tmpl string
	vars := map[string]string{}
	switch x := v.(type) {
	case string:
		tmpl = x
	case []any:
		if len(x) != 2 {
			return "", fmt.Errorf("Fn::Sub list needs [template, vars]")
		}
		tmpl = fmt.Sprint(x[0])
		m, _ := x[1].(map[string]any)
		for k, e := range m {
			s, err := n.Resolve(e)
			if err != nil {
				return "", err
			}
			vars[k] = s
		}
	default:
		return "", fmt.Errorf("Fn::Sub of %T", v)
	}
	var firstErr error
	out := subVar.ReplaceAllStringFunc(tmpl, func(m string) string {
		name := m[2 : len(m)-1]
		if s, ok := vars[name]; ok {
			return s
		}
		var s string
		var err error
		if id, attr, ok := strings.Cut(name, "."); ok && !strings.HasPrefix(name, "AWS::") {
			s, err = n.att(id, attr)
		} else {
			s, err = n.ref(name)
		}
		if err != nil && firstErr == nil {
			firstErr = err
		}
		return s
	})
	return out, firstErr
}
