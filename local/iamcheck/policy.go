package iamcheck

import (
	"fmt"
	"sort"
	"strings"

	"github.com/tucanlink/wacloud/local/stack"
)

// Statement is one IAM policy statement with every intrinsic resolved.
type Statement struct {
	Sid         string
	Effect      string // "Allow" or "Deny"
	Action      []string
	NotAction   []string
	Resource    []string
	NotResource []string
	Condition   []Condition
	// Source says where the statement comes from: "inline", or the name
	// of the SAM policy template that expanded into it.
	Source string
}

// Condition is one operator and key of a statement's Condition block.
// Several conditions of a statement must all hold; several values of one
// condition are alternatives.
type Condition struct {
	Operator string // as written, qualifiers included: "ForAllValues:StringLike"
	Key      string // "dynamodb:LeadingKeys"
	Values   []string
}

// Policy is what a function's Policies property grants.
type Policy struct {
	Statements []Statement
	// Managed are AWS managed policies named by name or ARN. Their
	// contents are not known here, so they are not evaluated.
	Managed []string
}

// Policies reads the Policies property of every AWS::Serverless::Function
// of t, by logical id, resolving intrinsics with n: Fn::If by the
// template's Conditions evaluated with n's parameter values (so a test
// deploys with the parameters it sets there). A reference to a resource
// the local stack does not create resolves to "unresolved:…", which no
// call matches.
func Policies(t *stack.Template, n *stack.Names) (map[string]Policy, error) {
	out := map[string]Policy{}
	r := &resolver{Names: n, conditions: t.Conditions}
	for _, id := range t.OfType("AWS::Serverless::Function") {
		p, err := functionPolicy(t.Resources[id].Properties["Policies"], r)
		if err != nil {
			return nil, fmt.Errorf("%s Policies: %w", id, err)
		}
		out[id] = p
	}
	return out, nil
}

func functionPolicy(v any, n *resolver) (Policy, error) {
	var p Policy
	var items []any
	switch x := v.(type) {
	case nil:
		return p, nil
	case []any:
		items = x
	default:
		items = []any{x}
	}
	for i, it := range items {
		it, keep, err := n.choose(it)
		if err != nil {
			return p, fmt.Errorf("item %d: %w", i, err)
		}
		if !keep {
			continue
		}
		switch x := it.(type) {
		case string:
			p.Managed = append(p.Managed, x)
		case map[string]any:
			if st, ok := x["Statement"]; ok {
				ss, err := statements(st, n, "inline")
				if err != nil {
					return p, fmt.Errorf("item %d: %w", i, err)
				}
				p.Statements = append(p.Statements, ss...)
				continue
			}
			if len(x) != 1 {
				return p, fmt.Errorf("item %d: neither a policy document nor a SAM policy template: %v", i, keys(x))
			}
			for name, params := range x {
				if isIntrinsic(name) {
					return p, fmt.Errorf("item %d: %s is not supported in Policies here", i, name)
				}
				ss, err := expandTemplate(name, params, n)
				if err != nil {
					return p, fmt.Errorf("item %d: %w", i, err)
				}
				p.Statements = append(p.Statements, ss...)
			}
		default:
			return p, fmt.Errorf("item %d: unexpected %T", i, it)
		}
	}
	return p, nil
}

func statements(v any, n *resolver, source string) ([]Statement, error) {
	var list []any
	switch x := v.(type) {
	case []any:
		list = x
	case map[string]any:
		list = []any{x}
	default:
		return nil, fmt.Errorf("Statement is %T", v)
	}
	var out []Statement
	for i, e := range list {
		e, keep, err := n.choose(e)
		if err != nil {
			return nil, fmt.Errorf("statement %d: %w", i, err)
		}
		if !keep {
			continue
		}
		m, ok := e.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("statement %d is %T", i, e)
		}
		s := Statement{Source: source}
		s.Sid, _ = m["Sid"].(string)
		s.Effect, _ = m["Effect"].(string)
		if s.Effect != "Allow" && s.Effect != "Deny" {
			return nil, fmt.Errorf("statement %d (%s): Effect %q", i, s.Sid, s.Effect)
		}
		for _, f := range []struct {
			key string
			dst *[]string
		}{{"Action", &s.Action}, {"NotAction", &s.NotAction}, {"Resource", &s.Resource}, {"NotResource", &s.NotResource}} {
			if *f.dst, err = resolveList(m[f.key], n); err != nil {
				return nil, fmt.Errorf("statement %d (%s) %s: %w", i, s.Sid, f.key, err)
			}
		}
		if (len(s.Action) == 0) == (len(s.NotAction) == 0) {
			return nil, fmt.Errorf("statement %d (%s): needs exactly one of Action and NotAction", i, s.Sid)
		}
		if (len(s.Resource) == 0) == (len(s.NotResource) == 0) {
			return nil, fmt.Errorf("statement %d (%s): needs exactly one of Resource and NotResource", i, s.Sid)
		}
		if c, ok := m["Condition"]; ok {
			if s.Condition, err = conditions(c, n); err != nil {
				return nil, fmt.Errorf("statement %d (%s) Condition: %w", i, s.Sid, err)
			}
		}
		out = append(out, s)
	}
	return out, nil
}

func conditions(v any, n *resolver) ([]Condition, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("is %T, want a mapping", v)
	}
	var out []Condition
	for _, op := range keys(m) {
		if _, err := parseOperator(op); err != nil {
			return nil, err
		}
		km, ok := m[op].(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s is %T, want a mapping", op, m[op])
		}
		for _, k := range keys(km) {
			vals, err := resolveList(km[k], n)
			if err != nil {
				return nil, fmt.Errorf("%s %s: %w", op, k, err)
			}
			out = append(out, Condition{Operator: op, Key: k, Values: vals})
		}
	}
	return out, nil
}

// resolveList resolves a string, an intrinsic or a list of them.
func resolveList(v any, n *resolver) ([]string, error) {
	v, keep, err := n.choose(v)
	if err != nil || !keep {
		return nil, err
	}
	switch x := v.(type) {
	case nil:
		return nil, nil
	case []any:
		var out []string
		for _, e := range x {
			s, err := resolveList(e, n)
			if err != nil {
				return nil, err
			}
			out = append(out, s...)
		}
		return out, nil
	case map[string]any:
		s, err := n.Resolve(x)
		if err != nil {
			if isUnknown(err) {
				return []string{"unresolved:" + describe(x)}, nil
			}
			return nil, err
		}
		if s == "" {
			return nil, nil // AWS::NoValue
		}
		return []string{s}, nil
	default:
		s, err := n.Resolve(x)
		if err != nil {
			return nil, err
		}
		return []string{s}, nil
	}
}

// isUnknown says whether err is about a resource the local stack does not
// create (as opposed to a malformed intrinsic).
func isUnknown(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "is not known locally") || strings.Contains(msg, "Ref to unknown name")
}

func describe(m map[string]any) string {
	if g, ok := m["Fn::GetAtt"].([]any); ok && len(g) == 2 {
		return fmt.Sprintf("%v.%v", g[0], g[1])
	}
	if r, ok := m["Ref"]; ok {
		return fmt.Sprint(r)
	}
	return fmt.Sprint(m)
}

func isIntrinsic(name string) bool { return name == "Ref" || strings.HasPrefix(name, "Fn::") }

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// expandTemplate turns a SAM policy template into its statements, as SAM's
// policy_templates.json defines them (the ones this evaluator knows).
func expandTemplate(name string, params any, n *resolver) ([]Statement, error) {
	def, ok := samTemplates[name]
	if !ok {
		return nil, fmt.Errorf("SAM policy template %s is not known to iamcheck: add its definition", name)
	}
	pm, _ := params.(map[string]any)
	vals := map[string]string{}
	for _, p := range def.params {
		v, ok := pm[p]
		if !ok {
			return nil, fmt.Errorf("%s: parameter %s missing", name, p)
		}
		s, err := resolveList(v, n)
		if err != nil || len(s) != 1 {
			return nil, fmt.Errorf("%s: parameter %s: %v", name, p, err)
		}
		vals[p] = s[0]
	}
	arn := func(service, rest string) string {
		return fmt.Sprintf("arn:aws:%s:%s:%s:%s", service, n.Region, n.AccountID, rest)
	}
	var out []Statement
	for _, st := range def.statements(vals, arn) {
		st.Effect, st.Source = "Allow", name
		out = append(out, st)
	}
	return out, nil
}

type samTemplate struct {
	params     []string
	statements func(p map[string]string, arn func(service, rest string) string) []Statement
}

var (
	dynamoCrud  = []string{"dynamodb:GetItem", "dynamodb:DeleteItem", "dynamodb:PutItem", "dynamodb:Scan", "dynamodb:Query", "dynamodb:UpdateItem", "dynamodb:BatchWriteItem", "dynamodb:BatchGetItem", "dynamodb:DescribeTable", "dynamodb:ConditionCheckItem"}
	dynamoRead  = []string{"dynamodb:GetItem", "dynamodb:Scan", "dynamodb:Query", "dynamodb:BatchGetItem", "dynamodb:DescribeTable"}
	dynamoWrite = []string{"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:BatchWriteItem"}
	s3Read      = []string{"s3:GetObject", "s3:ListBucket", "s3:GetBucketLocation", "s3:GetObjectVersion", "s3:GetLifecycleConfiguration"}
	s3Crud      = []string{"s3:GetObject", "s3:ListBucket", "s3:GetBucketLocation", "s3:GetObjectVersion", "s3:PutObject", "s3:PutObjectAcl", "s3:GetLifecycleConfiguration", "s3:PutLifecycleConfiguration", "s3:DeleteObject"}
	s3Write     = []string{"s3:PutObject", "s3:PutObjectAcl", "s3:PutLifecycleConfiguration"}
)

func tableStatement(actions []string) func(p map[string]string, arn func(string, string) string) []Statement {
	return func(p map[string]string, arn func(string, string) string) []Statement {
		t := arn("dynamodb", "table/"+p["TableName"])
		return []Statement{{Action: actions, Resource: []string{t, t + "/index/*"}}}
	}
}

func bucketStatement(actions []string) func(p map[string]string, arn func(string, string) string) []Statement {
	return func(p map[string]string, _ func(string, string) string) []Statement {
		b := "arn:aws:s3:::" + p["BucketName"]
		return []Statement{{Action: actions, Resource: []string{b, b + "/*"}}}
	}
}

var samTemplates = map[string]samTemplate{
	"DynamoDBCrudPolicy":  {[]string{"TableName"}, tableStatement(dynamoCrud)},
	"DynamoDBReadPolicy":  {[]string{"TableName"}, tableStatement(dynamoRead)},
	"DynamoDBWritePolicy": {[]string{"TableName"}, tableStatement(dynamoWrite)},
	"S3ReadPolicy":        {[]string{"BucketName"}, bucketStatement(s3Read)},
	"S3CrudPolicy":        {[]string{"BucketName"}, bucketStatement(s3Crud)},
	"S3WritePolicy":       {[]string{"BucketName"}, bucketStatement(s3Write)},
	"SQSSendMessagePolicy": {[]string{"QueueName"}, func(p map[string]string, arn func(string, string) string) []Statement {
		return []Statement{{Action: []string{"sqs:SendMessage*"}, Resource: []string{arn("sqs", p["QueueName"])}}}
	}},
	"SQSPollerPolicy": {[]string{"QueueName"}, func(p map[string]string, arn func(string, string) string) []Statement {
		return []Statement{{Action: []string{"sqs:ChangeMessageVisibility", "sqs:ChangeMessageVisibilityBatch", "sqs:DeleteMessage",
			"sqs:DeleteMessageBatch", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"}, Resource: []string{arn("sqs", p["QueueName"])}}}
	}},
	"AWSSecretsManagerGetSecretValuePolicy": {[]string{"SecretArn"}, func(p map[string]string, _ func(string, string) string) []Statement {
		return []Statement{{Action: []string{"secretsmanager:GetSecretValue"}, Resource: []string{p["SecretArn"]}}}
	}},
	"KMSDecryptPolicy": {[]string{"KeyId"}, func(p map[string]string, arn func(string, string) string) []Statement {
		return []Statement{{Action: []string{"kms:Decrypt"}, Resource: []string{arn("kms", "key/"+p["KeyId"])}}}
	}},
	"KMSEncryptPolicy": {[]string{"KeyId"}, func(p map[string]string, arn func(string, string) string) []Statement {
		return []Statement{{Action: []string{"kms:Encrypt"}, Resource: []string{arn("kms", "key/"+p["KeyId"])}}}
	}},
}

// resolver resolves intrinsics with a stack's names, and Fn::If with the
// template's conditions.
type resolver struct {
	*stack.Names
	conditions map[string]any
}

// choose picks the branch of an Fn::If (repeatedly); keep is false for
// AWS::NoValue.
func (r *resolver) choose(v any) (_ any, keep bool, _ error) {
	for {
		m, ok := v.(map[string]any)
		if !ok || len(m) != 1 {
			return v, true, nil
		}
		if ref, ok := m["Ref"]; ok && ref == "AWS::NoValue" {
			return nil, false, nil
		}
		args, ok := m["Fn::If"].([]any)
		if !ok {
			return v, true, nil
		}
		if len(args) != 3 {
			return nil, false, fmt.Errorf("Fn::If needs [condition, then, else]")
		}
		c, err := r.condition(fmt.Sprint(args[0]), 0)
		if err != nil {
			return nil, false, err
		}
		if c {
			v = args[1]
		} else {
			v = args[2]
		}
	}
}

// condition evaluates a named condition of the template.
func (r *resolver) condition(name string, depth int) (bool, error) {
	def, ok := r.conditions[name]
	if !ok {
		return false, fmt.Errorf("condition %s is not in the template", name)
	}
	return r.eval(def, depth+1)
}

func (r *resolver) eval(v any, depth int) (bool, error) {
	if depth > 20 {
		return false, fmt.Errorf("conditions nest too deep")
	}
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return false, fmt.Errorf("condition %v is not an intrinsic", v)
	}
	for fn, a := range m {
		args, _ := a.([]any)
		switch fn {
		case "Condition":
			return r.condition(fmt.Sprint(a), depth)
		case "Fn::Equals":
			if len(args) != 2 {
				return false, fmt.Errorf("Fn::Equals needs two values")
			}
			x, err := r.Resolve(args[0])
			if err != nil {
				return false, err
			}
			y, err := r.Resolve(args[1])
			return x == y, err
		case "Fn::Not":
			if len(args) != 1 {
				return false, fmt.Errorf("Fn::Not needs one condition")
			}
			b, err := r.eval(args[0], depth+1)
			return !b, err
		case "Fn::And", "Fn::Or":
			and := fn == "Fn::And"
			for _, c := range args {
				b, err := r.eval(c, depth+1)
				if err != nil {
					return false, err
				}
				if b != and {
					return b, nil
				}
			}
			return and, nil
		default:
			return false, fmt.Errorf("condition function %s is not supported by iamcheck", fn)
		}
	}
	return false, nil
}
