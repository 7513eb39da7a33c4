package dynamoexpr_test

import (
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tucanlink/wacloud/local/ddbexpr"
	"github.com/tucanlink/wacloud/shared/dynamoexpr"
)

func s(v string) ddbtypes.AttributeValue { return &ddbtypes.AttributeValueMemberS{Value: v} }

func n(v int) ddbtypes.AttributeValue {
	return &ddbtypes.AttributeValueMemberN{Value: fmt.Sprint(v)}
}

// TestExpressions pins the text of each form, and that the request it
// makes passes DynamoDB's rules: no attribute name written bare (status,
// state and name are reserved words), no placeholder unused.
func TestExpressions(t *testing.T) {
	tests := []struct {
		name             string
		build            func(e *dynamoexpr.Expr) (update, cond string)
		update, cond     string
		names            map[string]string
		values           int
		valueAt, valueIs string // one value placeholder and its string form
	}{
		{
			name: "claim: absent or expired",
			build: func(e *dynamoexpr.Expr) (string, string) {
				return "", dynamoexpr.Or(e.NotExists("pk"), e.Compare("expires_at", "<", e.N(1765000000)))
			},
			cond:  "(attribute_not_exists(#pk) OR (#expires_at < :v0))",
			names: map[string]string{"#pk": "pk", "#expires_at": "expires_at"}, values: 1,
			valueAt: ":v0", valueIs: "1765000000",
		},
		{
			name: "record: reserved words through placeholders",
			build: func(e *dynamoexpr.Expr) (string, string) {
				u := e.Update().Set("state", s("sent")).Set("status", s("accepted")).SetIfAbsent("name", s("x"))
				return u.String(), dynamoexpr.And(e.Compare("claim_id", "=", e.S("c1")), e.Compare("state", "=", e.S("sending")))
			},
			update: "SET #state = :v0, #status = :v1, #name = if_not_exists(#name, :v2)",
			cond:   "((#claim_id = :v3) AND (#state = :v4))",
			names:  map[string]string{"#state": "state", "#status": "status", "#name": "name", "#claim_id": "claim_id"}, values: 5,
			valueAt: ":v4", valueIs: "sending",
		},
		{
			name: "schedule: an operand and ADD",
			build: func(e *dynamoexpr.Expr) (string, string) {
				u := e.Update().SetExpr("tat", e.Name("tat")+" + "+e.N(12500)).Add("counted", &ddbtypes.AttributeValueMemberSS{Value: []string{"accepted"}})
				return u.String(), dynamoexpr.And(dynamoexpr.Not(e.Contains("counted", e.S("accepted"))), e.Exists("pk"))
			},
			update: "SET #tat = #tat + :v0 ADD #counted :v1",
			cond:   "((NOT contains(#counted, :v2)) AND attribute_exists(#pk))",
			names:  map[string]string{"#tat": "tat", "#counted": "counted", "#pk": "pk"}, values: 3,
			valueAt: ":v0", valueIs: "12500",
		},
		{
			name: "names that are not plain get numbered placeholders",
			build: func(e *dynamoexpr.Expr) (string, string) {
				u := e.Update().Set("a-b", n(1)).Set("_x", n(2)).Set("a-b", n(3)).Set("2nd", n(4))
				return u.String(), e.Compare("a.b", "=", e.Value(&ddbtypes.AttributeValueMemberBOOL{Value: true}))
			},
			update: "SET #_0 = :v0, #_1 = :v1, #_0 = :v2, #_2 = :v3",
			cond:   "(#_3 = :v4)",
			names:  map[string]string{"#_0": "a-b", "#_1": "_x", "#_2": "2nd", "#_3": "a.b"}, values: 5,
			valueAt: ":v3", valueIs: "4",
		},
		{
			name: "a single condition is not wrapped again",
			build: func(e *dynamoexpr.Expr) (string, string) {
				return e.Update().Set("slow", n(1)).String(), dynamoexpr.And(dynamoexpr.Or(e.NotExists("slow_at")))
			},
			update: "SET #slow = :v0",
			cond:   "attribute_not_exists(#slow_at)",
			names:  map[string]string{"#slow": "slow", "#slow_at": "slow_at"}, values: 1,
			valueAt: ":v0", valueIs: "1",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := dynamoexpr.New()
			update, cond := tt.build(e)
			if update != tt.update {
				t.Errorf("update = %q, want %q", update, tt.update)
			}
			if cond != tt.cond {
				t.Errorf("condition = %q, want %q", cond, tt.cond)
			}
			if fmt.Sprint(e.Names()) != fmt.Sprint(tt.names) {
				t.Errorf("names = %v, want %v", e.Names(), tt.names)
			}
			if len(e.Values()) != tt.values {
				t.Errorf("%d values, want %d: %v", len(e.Values()), tt.values, e.Values())
			}
			switch v := e.Values()[tt.valueAt].(type) {
			case *ddbtypes.AttributeValueMemberS:
				if v.Value != tt.valueIs {
					t.Errorf("%s = %q, want %q", tt.valueAt, v.Value, tt.valueIs)
				}
			case *ddbtypes.AttributeValueMemberN:
				if v.Value != tt.valueIs {
					t.Errorf("%s = %s, want %s", tt.valueAt, v.Value, tt.valueIs)
				}
			default:
				t.Errorf("%s = %#v", tt.valueAt, v)
			}
			in := &dynamodb.UpdateItemInput{
				TableName: aws.String("t"), ConditionExpression: aws.String(cond),
				ExpressionAttributeNames: e.Names(), ExpressionAttributeValues: e.Values(),
			}
			if update != "" {
				in.UpdateExpression = aws.String(update)
			}
			for _, p := range ddbexpr.Problems(in) {
				t.Error(p)
			}
		})
	}
}

// TestUnusedPlaceholderIsCaught shows why every placeholder made must be
// used: DynamoDB refuses the request, and the checker the stores' tests
// run says so.
func TestUnusedPlaceholderIsCaught(t *testing.T) {
	e := dynamoexpr.New()
	_ = e.NotExists("pk") // made, then not used
	cond := e.Compare("tenant_id", "=", e.S("acme"))
	in := &dynamodb.UpdateItemInput{
		TableName: aws.String("t"), UpdateExpression: aws.String(e.Update().Set("wamid", s("w")).String()),
		ConditionExpression: aws.String(cond), ExpressionAttributeNames: e.Names(), ExpressionAttributeValues: e.Values(),
	}
	if len(ddbexpr.Problems(in)) == 0 {
		t.Fatal("an unused #pk went unnoticed")
	}
}

// The SDK's builder against this package, for the write a send's record
// makes (five attributes, a two-part condition):
//
//	go test ./shared/dynamoexpr -run '^$' -bench . -benchmem
func BenchmarkRecordSent(b *testing.B) {
	b.Run("sdk-builder", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			up := expression.Set(expression.Name("state"), expression.Value("sent")).
				Set(expression.Name("wamid"), expression.Value("wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJDQjZCMzlEQUE4OTJBMTE0RjIA")).
				Set(expression.Name("attempts"), expression.Value(n(1))).
				Set(expression.Name("finished_at"), expression.Value(n(1765000000000))).
				Set(expression.Name("expires_at"), expression.Value(n(1765000000)))
			cond := expression.Name("claim_id").Equal(expression.Value("c1")).And(expression.Name("state").Equal(expression.Value("sending")))
			e, err := expression.NewBuilder().WithUpdate(up).WithCondition(cond).Build()
			if err != nil {
				b.Fatal(err)
			}
			sink = &ddbtypes.Update{UpdateExpression: e.Update(), ConditionExpression: e.Condition(), ExpressionAttributeNames: e.Names(), ExpressionAttributeValues: e.Values()}
		}
	})
	b.Run("dynamoexpr", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			e := dynamoexpr.New()
			up := e.Update().Set("state", s("sent")).
				Set("wamid", s("wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJDQjZCMzlEQUE4OTJBMTE0RjIA")).
				Set("attempts", n(1)).Set("finished_at", n(1765000000000)).Set("expires_at", n(1765000000))
			cond := dynamoexpr.And(e.Compare("claim_id", "=", e.S("c1")), e.Compare("state", "=", e.S("sending")))
			sink = &ddbtypes.Update{UpdateExpression: aws.String(up.String()), ConditionExpression: aws.String(cond), ExpressionAttributeNames: e.Names(), ExpressionAttributeValues: e.Values()}
		}
	})
}

var sink *ddbtypes.Update
