package iamcheck

import (
	"slices"
	"strings"
	"testing"
)

func TestLike(t *testing.T) {
	tests := []struct {
		pattern, v string
		want       bool
	}{
		{"job#*", "job#1", true},
		{"job#*", "job#", true},
		{"job#*", "jobref#1", false},
		{"*", "", true},
		{"a?c", "abc", true},
		{"a?c", "ac", false},
		{"arn:aws:s3:::b/tenants/*", "arn:aws:s3:::b/tenants/demo/x.jpg", true},
		{"arn:aws:s3:::b/tenants/*", "arn:aws:s3:::b/parked/x", false},
		{"secret:wacloud/tenants/*-??????", "secret:wacloud/tenants/demo-Ab3dE9", true},
		{"secret:wacloud/tenants/*-??????", "secret:wacloud/tenants/demo", false},
		{"*a*b", "xaxxb", true},
		{"*a*b", "xaxxbc", false},
		{"Job#*", "job#1", false},
	}
	for _, tt := range tests {
		t.Run(tt.pattern+" "+tt.v, func(t *testing.T) {
			if got := Like(tt.pattern, tt.v); got != tt.want {
				t.Errorf("Like(%q, %q) = %v, want %v", tt.pattern, tt.v, got, tt.want)
			}
		})
	}
}

func TestConditionHolds(t *testing.T) {
	keys := func(vs ...string) map[string][]string { return map[string][]string{"dynamodb:LeadingKeys": vs} }
	tests := []struct {
		name string
		cond Condition
		ctx  map[string][]string
		want bool
	}{
		{"ForAllValues:StringLike every value matches", Condition{"ForAllValues:StringLike", "dynamodb:LeadingKeys", []string{"job#*", "rate#*"}}, keys("job#1", "rate#num#2"), true},
		{"ForAllValues:StringLike one value outside", Condition{"ForAllValues:StringLike", "dynamodb:LeadingKeys", []string{"job#*"}}, keys("job#1", "msg#2"), false},
		{"ForAllValues holds without the key", Condition{"ForAllValues:StringLike", "dynamodb:LeadingKeys", []string{"job#*"}}, nil, true},
		{"ForAnyValue fails without the key", Condition{"ForAnyValue:StringLike", "dynamodb:LeadingKeys", []string{"job#*"}}, nil, false},
		{"ForAnyValue one value matches", Condition{"ForAnyValue:StringEquals", "dynamodb:LeadingKeys", []string{"job#1"}}, keys("msg#2", "job#1"), true},
		{"ForAllValues:StringEquals is exact", Condition{"ForAllValues:StringEquals", "dynamodb:LeadingKeys", []string{"job#"}}, keys("job#1"), false},
		{"StringLike on s3:prefix", Condition{"StringLike", "s3:prefix", []string{"tenants/*"}}, map[string][]string{"s3:prefix": {"tenants/demo/a.jpg"}}, true},
		{"StringLike fails without the key", Condition{"StringLike", "s3:prefix", []string{"tenants/*"}}, nil, false},
		{"StringLikeIfExists holds without the key", Condition{"StringLikeIfExists", "s3:prefix", []string{"tenants/*"}}, nil, true},
		{"StringNotEquals holds without the key", Condition{"StringNotEquals", "s3:prefix", []string{"parked/"}}, nil, true},
		{"StringNotEquals fails on the value", Condition{"StringNotEquals", "s3:prefix", []string{"parked/"}}, map[string][]string{"s3:prefix": {"parked/"}}, false},
		{"Null true without the key", Condition{"Null", "s3:prefix", []string{"true"}}, nil, true},
		{"Null false with the key", Condition{"Null", "s3:prefix", []string{"false"}}, map[string][]string{"s3:prefix": {""}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.cond.Holds(tt.ctx); got != tt.want {
				t.Errorf("%+v on %v = %v, want %v", tt.cond, tt.ctx, got, tt.want)
			}
		})
	}
}

func TestAllowed(t *testing.T) {
	table := "arn:aws:dynamodb:us-east-1:000000000000:table/StateTable"
	job := Call{Action: "dynamodb:PutItem", Resource: table, Context: map[string][]string{"dynamodb:LeadingKeys": {"job#1"}}}
	msg := Call{Action: "dynamodb:PutItem", Resource: table, Context: map[string][]string{"dynamodb:LeadingKeys": {"msg#1"}}}
	scoped := Statement{Effect: "Allow", Action: []string{"dynamodb:PutItem"}, Resource: []string{table},
		Condition: []Condition{{"ForAllValues:StringLike", "dynamodb:LeadingKeys", []string{"job#*"}}}}
	tests := []struct {
		name  string
		stmts []Statement
		call  Call
		want  bool
	}{
		{"nothing granted", nil, job, false},
		{"leading key inside the grant", []Statement{scoped}, job, true},
		{"leading key outside the grant", []Statement{scoped}, msg, false},
		{"action wildcard, any case", []Statement{{Effect: "Allow", Action: []string{"DynamoDB:*Item"}, Resource: []string{table}}}, msg, true},
		{"resource is case-sensitive", []Statement{{Effect: "Allow", Action: []string{"dynamodb:PutItem"}, Resource: []string{strings.ToLower(table)}}}, msg, false},
		{"other table", []Statement{{Effect: "Allow", Action: []string{"dynamodb:PutItem"}, Resource: []string{table + "2"}}}, msg, false},
		{"deny wins", []Statement{{Effect: "Allow", Action: []string{"dynamodb:*"}, Resource: []string{"*"}},
			{Effect: "Deny", Action: []string{"dynamodb:PutItem"}, Resource: []string{"*"}}}, job, false},
		{"NotAction", []Statement{{Effect: "Allow", NotAction: []string{"dynamodb:DeleteItem"}, Resource: []string{"*"}}}, job, true},
		{"NotResource", []Statement{{Effect: "Allow", Action: []string{"dynamodb:PutItem"}, NotResource: []string{table}}}, job, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Allowed(tt.stmts, tt.call); got != tt.want {
				t.Errorf("Allowed(%s) = %v, want %v", tt.call, got, tt.want)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	queue := "arn:aws:sqs:us-east-1:000000000000:Q"
	dlq := "arn:aws:sqs:us-east-1:000000000000:DLQ"
	table := "arn:aws:dynamodb:us-east-1:000000000000:table/T"
	send := Call{Function: "F", Action: "sqs:SendMessage", Resource: queue}
	get := Call{Function: "F", Action: "dynamodb:GetItem", Resource: table, Context: map[string][]string{"dynamodb:LeadingKeys": {"job#1"}}}
	sendStmt := Statement{Sid: "Send", Effect: "Allow", Action: []string{"sqs:SendMessage"}, Resource: []string{queue}}
	getStmt := Statement{Sid: "Get", Effect: "Allow", Action: []string{"dynamodb:GetItem"}, Resource: []string{table},
		Condition: []Condition{{"ForAllValues:StringLike", "dynamodb:LeadingKeys", []string{"job#*"}}}}
	tests := []struct {
		name    string
		stmts   []Statement
		calls   []Call
		waivers []Waiver
		want    []string // substrings of the findings, in order
	}{
		{"exact", []Statement{sendStmt, getStmt}, []Call{send, get}, nil, nil},
		{"call not allowed", []Statement{sendStmt}, []Call{send, get}, nil, []string{"F: not allowed: dynamodb:GetItem"}},
		{"unused action", []Statement{withActions(sendStmt, "sqs:SendMessage", "sqs:DeleteMessage"), getStmt}, []Call{send, get}, nil,
			[]string{"statement Send grants action sqs:DeleteMessage"}},
		{"unused action waived", []Statement{withActions(sendStmt, "sqs:SendMessage", "sqs:DeleteMessage"), getStmt}, []Call{send, get},
			[]Waiver{{Function: "F", Item: "sqs:DeleteMessage", Why: "test"}}, nil},
		{"waiver of another function does not count", []Statement{withActions(sendStmt, "sqs:SendMessage", "sqs:DeleteMessage"), getStmt}, []Call{send, get},
			[]Waiver{{Function: "G", Item: "sqs:DeleteMessage", Why: "test"}}, []string{"grants action sqs:DeleteMessage"}},
		{"unused resource", []Statement{withResources(sendStmt, queue, dlq), getStmt}, []Call{send, get}, nil, []string{"grants resource " + dlq}},
		{"unused condition value", []Statement{sendStmt, withKeys(getStmt, "job#*", "rate#*")}, []Call{send, get}, nil, []string{`"rate#*"`}},
		{"statement nothing uses", []Statement{sendStmt, getStmt}, []Call{send}, nil, []string{"grants action dynamodb:GetItem", "grants resource " + table, `"job#*"`}},
		{"fully waived statement", []Statement{sendStmt, getStmt}, []Call{send},
			[]Waiver{{Function: "F", Item: "dynamodb:GetItem", Why: "test"}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Check(map[string]Policy{"F": {Statements: tt.stmts}}, tt.calls, tt.waivers)
			if len(got) != len(tt.want) {
				t.Fatalf("findings %v, want %d matching %q", got, len(tt.want), tt.want)
			}
			for i, f := range got {
				if !strings.Contains(f.String(), tt.want[i]) {
					t.Errorf("finding %d = %q, want it to contain %q", i, f, tt.want[i])
				}
			}
		})
	}
}

func withActions(s Statement, a ...string) Statement {
	s.Action = a
	return s
}

func withResources(s Statement, r ...string) Statement {
	s.Resource = r
	return s
}

func withKeys(s Statement, v ...string) Statement {
	s.Condition = []Condition{{s.Condition[0].Operator, s.Condition[0].Key, slices.Clone(v)}}
	return s
}
