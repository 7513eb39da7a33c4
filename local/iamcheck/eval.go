package iamcheck

import (
	"fmt"
	"sort"
	"strings"
)

// Call is one authorization an AWS call needs, as IAM evaluates it.
// A call to TransactWriteItems, for one, needs one per item.
type Call struct {
	Function  string // logical id in template.yaml
	Service   string // "dynamodb"
	Operation string // the API operation: "TransactWriteItems"
	Action    string // "dynamodb:PutItem"
	Resource  string // the ARN on AWS
	// Context holds the condition keys the request carries
	// ("dynamodb:LeadingKeys", "s3:prefix").
	Context map[string][]string
	// Why explains a call the SDK does not make but AWS checks anyway:
	// HeadObject of a missing object answers 404 only to a caller allowed
	// s3:ListBucket with the key as s3:prefix, and 403 to anyone else.
	Why string
}

func (c Call) String() string {
	s := c.Action + " " + c.Resource
	ks := make([]string, 0, len(c.Context))
	for k := range c.Context {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	for _, k := range ks {
		s += fmt.Sprintf(" %s=%q", k, c.Context[k])
	}
	if c.Operation != "" && !strings.HasSuffix(c.Action, ":"+c.Operation) {
		s += " (" + c.Operation + ")"
	}
	if c.Why != "" {
		s += " [" + c.Why + "]"
	}
	return s
}

// Allowed says whether statements allow c: no Deny matches and some Allow
// does, as IAM decides within one identity policy.
func Allowed(statements []Statement, c Call) bool {
	allowed := false
	for _, s := range statements {
		if !s.Matches(c) {
			continue
		}
		if s.Effect == "Deny" {
			return false
		}
		allowed = true
	}
	return allowed
}

// Matches says whether s applies to c: its action, its resource and every
// one of its conditions.
func (s Statement) Matches(c Call) bool {
	if len(s.Action) > 0 && !anyMatch(s.Action, c.Action, true) {
		return false
	}
	if len(s.NotAction) > 0 && anyMatch(s.NotAction, c.Action, true) {
		return false
	}
	if len(s.Resource) > 0 && !anyMatch(s.Resource, c.Resource, false) {
		return false
	}
	if len(s.NotResource) > 0 && anyMatch(s.NotResource, c.Resource, false) {
		return false
	}
	for _, cond := range s.Condition {
		if !cond.Holds(c.Context) {
			return false
		}
	}
	return true
}

func anyMatch(patterns []string, v string, fold bool) bool {
	for _, p := range patterns {
		if fold {
			if Like(strings.ToLower(p), strings.ToLower(v)) {
				return true
			}
		} else if Like(p, v) {
			return true
		}
	}
	return false
}

// Like matches v against an IAM pattern: * is any run of characters
// (none included), ? is exactly one.
func Like(pattern, v string) bool {
	// Iterative wildcard matching with backtracking to the last *.
	p, s, star, mark := 0, 0, -1, 0
	for s < len(v) {
		switch {
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == v[s]):
			p++
			s++
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, s
			p++
		case star >= 0:
			p = star + 1
			mark++
			s = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

type operator struct {
	set     string // "", "ForAllValues" or "ForAnyValue"
	base    string // "StringLike", ...
	ifExist bool
}

var baseOperators = map[string]struct {
	negated bool
	match   func(policy, v string) bool
}{
	"StringEquals":              {false, func(p, v string) bool { return p == v }},
	"StringNotEquals":           {true, func(p, v string) bool { return p == v }},
	"StringEqualsIgnoreCase":    {false, strings.EqualFold},
	"StringNotEqualsIgnoreCase": {true, strings.EqualFold},
	"StringLike":                {false, Like},
	"StringNotLike":             {true, Like},
	"ArnEquals":                 {false, func(p, v string) bool { return p == v }},
	"ArnNotEquals":              {true, func(p, v string) bool { return p == v }},
	"ArnLike":                   {false, Like},
	"ArnNotLike":                {true, Like},
	"Null":                      {false, nil},
}

func parseOperator(op string) (operator, error) {
	var o operator
	rest := op
	if set, r, ok := strings.Cut(op, ":"); ok {
		if set != "ForAllValues" && set != "ForAnyValue" {
			return o, fmt.Errorf("condition operator %q: unknown set qualifier", op)
		}
		o.set, rest = set, r
	}
	if b, ok := strings.CutSuffix(rest, "IfExists"); ok && b != "" {
		o.ifExist, rest = true, b
	}
	if _, ok := baseOperators[rest]; !ok {
		return o, fmt.Errorf("condition operator %q is not supported by iamcheck", op)
	}
	o.base = rest
	return o, nil
}

// Holds evaluates the condition against a request's context, with IAM's
// rules for a missing key: ForAllValues holds (there is no value to fail),
// ForAnyValue and plain operators fail, negated plain operators and
// …IfExists hold.
func (c Condition) Holds(ctx map[string][]string) bool {
	o, err := parseOperator(c.Operator)
	if err != nil {
		return false
	}
	vs, present := ctx[c.Key]
	if o.base == "Null" {
		want := len(c.Values) > 0 && strings.EqualFold(c.Values[0], "true")
		return want == !present
	}
	b := baseOperators[o.base]
	matchesAny := func(v string) bool {
		for _, p := range c.Values {
			if b.match(p, v) {
				return true
			}
		}
		return false
	}
	ok := func(v string) bool { return matchesAny(v) != b.negated }
	switch o.set {
	case "ForAllValues":
		for _, v := range vs {
			if !ok(v) {
				return false
			}
		}
		return true
	case "ForAnyValue":
		for _, v := range vs {
			if ok(v) {
				return true
			}
		}
		return false
	}
	if !present || len(vs) == 0 {
		return o.ifExist || b.negated
	}
	return ok(vs[0])
}

// Waiver excuses a grant no recorded call uses: Item is an action, a
// resource or a condition value exactly as the resolved statement has it
// (Sid empty for any statement of the function).
type Waiver struct {
	Function, Sid, Item string
	Why                 string
}

// Finding is a difference between a function's policy and its calls.
type Finding struct {
	Function string
	// Denied is a call no statement allows; otherwise Sid and Unused
	// name a grant no call uses.
	Denied *Call
	Sid    string
	Unused string
}

func (f Finding) String() string {
	if f.Denied != nil {
		return fmt.Sprintf("%s: not allowed: %s", f.Function, f.Denied)
	}
	return fmt.Sprintf("%s: statement %s grants %s, which no call uses", f.Function, f.Sid, f.Unused)
}

// Check compares each function's calls with its policy: every call must be
// allowed, and every action, resource and condition value of every Allow
// statement must be used by a call the statement allows, unless waived. A
// waived action also excuses the statement's resources and condition
// values when every action of the statement is waived. Functions without
// a policy in policies are reported for each of their calls.
func Check(policies map[string]Policy, calls []Call, waivers []Waiver) []Finding {
	var out []Finding
	byFn := map[string][]Call{}
	for _, c := range calls {
		byFn[c.Function] = append(byFn[c.Function], c)
	}
	seen := map[string]bool{}
	for _, c := range calls {
		if !Allowed(policies[c.Function].Statements, c) && !seen[c.Function+"\x00"+c.String()] {
			seen[c.Function+"\x00"+c.String()] = true
			c := c
			out = append(out, Finding{Function: c.Function, Denied: &c})
		}
	}
	fns := make([]string, 0, len(policies))
	for fn := range policies {
		fns = append(fns, fn)
	}
	sort.Strings(fns)
	for _, fn := range fns {
		for i, s := range policies[fn].Statements {
			if s.Effect != "Allow" {
				continue
			}
			sid := s.Sid
			if sid == "" {
				sid = fmt.Sprintf("#%d (%s)", i, s.Source)
			}
			waived := func(item string) bool {
				for _, w := range waivers {
					if w.Function == fn && w.Item == item && (w.Sid == "" || w.Sid == s.Sid) {
						return true
					}
				}
				return false
			}
			var used []Call
			for _, c := range byFn[fn] {
				if s.Matches(c) {
					used = append(used, c)
				}
			}
			allWaived := len(s.Action) > 0
			for _, a := range s.Action {
				if !waived(a) {
					allWaived = false
				}
				if !usedBy(used, func(c Call) bool { return anyMatch([]string{a}, c.Action, true) }) && !waived(a) {
					out = append(out, Finding{Function: fn, Sid: sid, Unused: "action " + a})
				}
			}
			if allWaived {
				continue
			}
			for _, r := range s.Resource {
				if !usedBy(used, func(c Call) bool { return Like(r, c.Resource) }) && !waived(r) {
					out = append(out, Finding{Function: fn, Sid: sid, Unused: "resource " + r})
				}
			}
			for _, cond := range s.Condition {
				o, _ := parseOperator(cond.Operator)
				b := baseOperators[o.base]
				if b.negated || b.match == nil {
					continue
				}
				for _, v := range cond.Values {
					hit := func(c Call) bool {
						for _, x := range c.Context[cond.Key] {
							if b.match(v, x) {
								return true
							}
						}
						return false
					}
					if !usedBy(used, hit) && !waived(v) {
						out = append(out, Finding{Function: fn, Sid: sid, Unused: fmt.Sprintf("%s %s %q", cond.Operator, cond.Key, v)})
					}
				}
			}
		}
	}
	return out
}

func usedBy(calls []Call, f func(Call) bool) bool {
	for _, c := range calls {
		if f(c) {
			return true
		}
	}
	return false
}
