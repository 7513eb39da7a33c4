package iamcheck

import (
	"reflect"
	"strings"
	"testing"

	"github.com/tucanlink/wacloud/local/stack"
)

const policyTemplate = `
Parameters:
  KeyArn:
    Type: String
    Default: ""
Conditions:
  HasKey: !Not [!Equals [!Ref KeyArn, ""]]
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Policies:
        - AWSLambdaBasicExecutionRole
        - SQSSendMessagePolicy:
            QueueName: !GetAtt Queue.QueueName
        - DynamoDBReadPolicy:
            TableName: !Ref Table
        - Statement:
            - Sid: Scoped
              Effect: Allow
              Action: [dynamodb:GetItem, dynamodb:PutItem]
              Resource: !GetAtt Table.Arn
              Condition:
                ForAllValues:StringLike:
                  dynamodb:LeadingKeys: ["job#*", !Sub "rate#${AWS::Region}#*"]
            - !If
              - HasKey
              - Sid: Key
                Effect: Allow
                Action: kms:Decrypt
                Resource: !Ref KeyArn
              - !Ref AWS::NoValue
            - Sid: Unknown
              Effect: Deny
              Action: s3:*
              Resource: !GetAtt Elsewhere.Arn
`

func parsePolicies(t *testing.T, src string, params map[string]string) Policy {
	t.Helper()
	tmpl, err := stack.Parse([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	n := &stack.Names{Region: "us-east-1", AccountID: "000000000000", Params: map[string]string{"KeyArn": ""},
		Ref: map[string]string{"Table": "Table"},
		Att: map[string]string{"Table.Arn": "arn:aws:dynamodb:us-east-1:000000000000:table/Table", "Queue.QueueName": "Q.fifo"}}
	for k, v := range params {
		n.Params[k] = v
	}
	ps, err := Policies(tmpl, n)
	if err != nil {
		t.Fatal(err)
	}
	return ps["Fn"]
}

func TestPolicies(t *testing.T) {
	table := "arn:aws:dynamodb:us-east-1:000000000000:table/Table"
	send := Statement{Effect: "Allow", Action: []string{"sqs:SendMessage*"}, Resource: []string{"arn:aws:sqs:us-east-1:000000000000:Q.fifo"}, Source: "SQSSendMessagePolicy"}
	read := Statement{Effect: "Allow", Action: dynamoRead, Resource: []string{table, table + "/index/*"}, Source: "DynamoDBReadPolicy"}
	scoped := Statement{Sid: "Scoped", Effect: "Allow", Action: []string{"dynamodb:GetItem", "dynamodb:PutItem"}, Resource: []string{table}, Source: "inline",
		Condition: []Condition{{"ForAllValues:StringLike", "dynamodb:LeadingKeys", []string{"job#*", "rate#us-east-1#*"}}}}
	key := Statement{Sid: "Key", Effect: "Allow", Action: []string{"kms:Decrypt"}, Resource: []string{"arn:aws:kms:us-east-1:000000000000:key/k"}, Source: "inline"}
	deny := Statement{Sid: "Unknown", Effect: "Deny", Action: []string{"s3:*"}, Resource: []string{"unresolved:Elsewhere.Arn"}, Source: "inline"}
	tests := []struct {
		name   string
		params map[string]string
		want   []Statement
	}{
		{"without the key", nil, []Statement{send, read, scoped, deny}},
		{"with the key", map[string]string{"KeyArn": "arn:aws:kms:us-east-1:000000000000:key/k"}, []Statement{send, read, scoped, key, deny}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := parsePolicies(t, policyTemplate, tt.params)
			if !reflect.DeepEqual(p.Statements, tt.want) {
				t.Errorf("statements\n got %+v\nwant %+v", p.Statements, tt.want)
			}
			if want := []string{"AWSLambdaBasicExecutionRole"}; !reflect.DeepEqual(p.Managed, want) {
				t.Errorf("managed = %v, want %v", p.Managed, want)
			}
		})
	}
}

func TestPoliciesRefuses(t *testing.T) {
	tests := []struct {
		name, policies, want string
	}{
		{"unknown SAM policy template", "- LambdaInvokePolicy: {FunctionName: f}", "not known to iamcheck"},
		{"unsupported condition operator", "- Statement: [{Effect: Allow, Action: s3:GetObject, Resource: '*', Condition: {DateGreaterThan: {aws:CurrentTime: x}}}]", "not supported"},
		{"no Effect", "- Statement: [{Action: s3:GetObject, Resource: '*'}]", "Effect"},
		{"no Resource", "- Statement: [{Effect: Allow, Action: s3:GetObject}]", "Resource"},
		{"unknown condition", "- Statement: [!If [Nope, {Effect: Allow, Action: s3:GetObject, Resource: '*'}, !Ref AWS::NoValue]]", "Nope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := "Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n      Policies:\n        " + tt.policies + "\n"
			tmpl, err := stack.Parse([]byte(src))
			if err != nil {
				t.Fatal(err)
			}
			_, err = Policies(tmpl, &stack.Names{Region: "us-east-1", AccountID: "000000000000"})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Policies error = %v, want one mentioning %q", err, tt.want)
			}
		})
	}
}
