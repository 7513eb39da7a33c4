package stack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	schedtypes "github.com/aws/aws-sdk-go-v2/service/scheduler/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// Options tune provisioning.
type Options struct {
	StackName string            // default "wacloud-local"
	AccountID string            // default "000000000000"
	Params    map[string]string // parameter overrides
}

// Stack is a provisioned template.
type Stack struct {
	Template  *Template
	Names     *Names
	Functions map[string]Function
}

// Function is a function of the template with its environment resolved.
type Function struct {
	ID      string
	Env     map[string]string
	Routes  []Route
	Sources []SQSSource
	Timeout int
}

// Route is an HttpApi event of a function.
type Route struct {
	Method string
	Path   string
	// Authorizer is the route's JWT authorizer (Auth.Authorizer naming one
	// of its API's Auth.Authorizers), nil for an open route.
	Authorizer *JWTAuthorizer
}

// JWTAuthorizer is an HTTP API JWT authorizer with its configuration
// resolved.
type JWTAuthorizer struct {
	Name           string
	IdentitySource string
	Issuer         string
	Audience       []string
}

// SQSSource is an SQS event source mapping of a function.
type SQSSource struct {
	QueueID            string
	QueueURL           string
	BatchSize          int
	ReportItemFailures bool
	// MaxConcurrency is ScalingConfig.MaximumConcurrency, 0 when unset.
	MaxConcurrency int
}

// Getenv returns a getenv function over the function's environment.
func (f Function) Getenv(key string) string { return f.Env[key] }

// Provision creates every table, queue, bucket and secret the template
// declares, using cfg's endpoint, and resolves the functions.
//
// What only matters in an AWS account is left out: queues are not
// encrypted (the emulators have no KMS, so KmsMasterKeyId is not sent),
// and log groups, bucket policies, server access logging, API throttling
// and reserved concurrency are not created. Bucket versioning is applied,
// since it changes what a delete leaves behind.
func Provision(ctx context.Context, cfg aws.Config, t *Template, o Options) (*Stack, error) {
	if o.StackName == "" {
		o.StackName = "wacloud-local"
	}
	if o.AccountID == "" {
		o.AccountID = "000000000000"
	}
	n := &Names{
		Region: cfg.Region, AccountID: o.AccountID, StackName: o.StackName,
		Params: map[string]string{}, Ref: map[string]string{}, Att: map[string]string{},
	}
	for name, p := range t.Parameters {
		if d, ok := p["Default"]; ok {
			n.Params[name] = fmt.Sprint(d)
		} else {
			n.Params[name] = ""
		}
	}
	for k, v := range o.Params {
		n.Params[k] = v
	}
	s := &Stack{Template: t, Names: n, Functions: map[string]Function{}}

	ddb := dynamodb.NewFromConfig(cfg)
	for _, id := range t.OfType("AWS::DynamoDB::Table") {
		if err := createTable(ctx, ddb, n, id, t.Resources[id]); err != nil {
			return nil, err
		}
	}
	q := sqs.NewFromConfig(cfg)
	// Queues without a redrive policy (the dead-letter queues) first.
	queues := t.OfType("AWS::SQS::Queue")
	sort.SliceStable(queues, func(i, j int) bool {
		_, ri := t.Resources[queues[i]].Properties["RedrivePolicy"]
		_, rj := t.Resources[queues[j]].Properties["RedrivePolicy"]
		return !ri && rj
	})
	for _, id := range queues {
		if err := createQueue(ctx, q, n, id, t.Resources[id]); err != nil {
			return nil, err
		}
	}
	s3c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	for _, id := range t.OfType("AWS::S3::Bucket") {
		name := strings.ToLower(o.StackName + "-" + id)
		if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil && !strings.Contains(err.Error(), "BucketAlreadyOwnedByYou") {
			return nil, fmt.Errorf("create bucket %s: %w", id, err)
		}
		if v, ok := t.Resources[id].Properties["VersioningConfiguration"].(map[string]any); ok && v["Status"] == "Enabled" {
			_, err := s3c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{
				Bucket:                  aws.String(name),
				VersioningConfiguration: &s3types.VersioningConfiguration{Status: s3types.BucketVersioningStatusEnabled},
			})
			if err != nil {
				return nil, fmt.Errorf("enable versioning on bucket %s: %w", id, err)
			}
		}
		n.Ref[id] = name
		n.Att[id+".Arn"] = "arn:aws:s3:::" + name
	}
	sm := secretsmanager.NewFromConfig(cfg)
	for _, id := range t.OfType("AWS::SecretsManager::Secret") {
		if err := createSecret(ctx, sm, n, id, t.Resources[id]); err != nil {
			return nil, err
		}
	}
	// Schedule groups are made in the emulator under the name
	// CloudFormation would choose (the template gives none); roles exist
	// only as the ARN that Scheduler is handed (the emulator enforces no
	// IAM).
	sch := scheduler.NewFromConfig(cfg)
	for _, id := range t.OfType("AWS::Scheduler::ScheduleGroup") {
		name := generatedName(o.StackName, id)
		if v, ok := t.Resources[id].Properties["Name"]; ok {
			var err error
			if name, err = n.Resolve(v); err != nil {
				return nil, fmt.Errorf("schedule group %s: %w", id, err)
			}
		}
		out, err := sch.CreateScheduleGroup(ctx, &scheduler.CreateScheduleGroupInput{Name: aws.String(name)})
		var conflict *schedtypes.ConflictException
		switch {
		case errors.As(err, &conflict):
			n.Att[id+".Arn"] = fmt.Sprintf("arn:aws:scheduler:%s:%s:schedule-group/%s", n.Region, n.AccountID, name)
		case err != nil:
			return nil, fmt.Errorf("create schedule group %s: %w", id, err)
		default:
			n.Att[id+".Arn"] = aws.ToString(out.ScheduleGroupArn)
		}
		n.Ref[id] = name
	}
	for _, id := range t.OfType("AWS::IAM::Role") {
		name := generatedName(o.StackName, id)
		n.Ref[id] = name
		n.Att[id+".Arn"] = fmt.Sprintf("arn:aws:iam::%s:role/%s", n.AccountID, name)
	}
	for _, id := range t.OfType("AWS::Serverless::Function") {
		f, err := resolveFunction(t, n, id)
		if err != nil {
			return nil, err
		}
		s.Functions[id] = f
	}
	return s, nil
}

func createTable(ctx context.Context, c *dynamodb.Client, n *Names, id string, r Resource) error {
	p := r.Properties
	in := &dynamodb.CreateTableInput{TableName: aws.String(id), BillingMode: ddbtypes.BillingModePayPerRequest}
	for _, a := range list(p["AttributeDefinitions"]) {
		m, _ := a.(map[string]any)
		in.AttributeDefinitions = append(in.AttributeDefinitions, ddbtypes.AttributeDefinition{
			AttributeName: aws.String(fmt.Sprint(m["AttributeName"])),
			AttributeType: ddbtypes.ScalarAttributeType(fmt.Sprint(m["AttributeType"])),
		})
	}
	in.KeySchema = keySchema(p["KeySchema"])
	for _, g := range list(p["GlobalSecondaryIndexes"]) {
		m, _ := g.(map[string]any)
		in.GlobalSecondaryIndexes = append(in.GlobalSecondaryIndexes, ddbtypes.GlobalSecondaryIndex{
			IndexName:  aws.String(fmt.Sprint(m["IndexName"])),
			KeySchema:  keySchema(m["KeySchema"]),
			Projection: &ddbtypes.Projection{ProjectionType: ddbtypes.ProjectionTypeAll},
		})
	}
	if _, err := c.CreateTable(ctx, in); err != nil && !strings.Contains(err.Error(), "ResourceInUse") {
		return fmt.Errorf("create table %s: %w", id, err)
	}
	if ttl, ok := p["TimeToLiveSpecification"].(map[string]any); ok && ttl["Enabled"] == true {
		_, err := c.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
			TableName: aws.String(id),
			TimeToLiveSpecification: &ddbtypes.TimeToLiveSpecification{
				AttributeName: aws.String(fmt.Sprint(ttl["AttributeName"])), Enabled: aws.Bool(true),
			},
		})
		if err != nil {
			return fmt.Errorf("enable TTL on %s: %w", id, err)
		}
	}
	n.Ref[id] = id
	n.Att[id+".Arn"] = fmt.Sprintf("arn:aws:dynamodb:%s:%s:table/%s", n.Region, n.AccountID, id)
	return nil
}

func keySchema(v any) []ddbtypes.KeySchemaElement {
	var out []ddbtypes.KeySchemaElement
	for _, k := range list(v) {
		m, _ := k.(map[string]any)
		out = append(out, ddbtypes.KeySchemaElement{
			AttributeName: aws.String(fmt.Sprint(m["AttributeName"])),
			KeyType:       ddbtypes.KeyType(fmt.Sprint(m["KeyType"])),
		})
	}
	return out
}

var queueAttributes = []string{"VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds", "ReceiveMessageWaitTimeSeconds",
	"ContentBasedDeduplication", "DeduplicationScope", "FifoThroughputLimit", "MaximumMessageSize"}

func createQueue(ctx context.Context, c *sqs.Client, n *Names, id string, r Resource) error {
	p := r.Properties
	name := id
	attrs := map[string]string{}
	if p["FifoQueue"] == true {
		name += ".fifo"
		attrs["FifoQueue"] = "true"
	}
	for _, a := range queueAttributes {
		if v, ok := p[a]; ok {
			s, err := n.Resolve(v)
			if err != nil {
				return fmt.Errorf("queue %s %s: %w", id, a, err)
			}
			attrs[a] = s
		}
	}
	if rp, ok := p["RedrivePolicy"].(map[string]any); ok {
		arn, err := n.Resolve(rp["deadLetterTargetArn"])
		if err != nil {
			return fmt.Errorf("queue %s redrive: %w", id, err)
		}
		b, _ := json.Marshal(map[string]string{"deadLetterTargetArn": arn, "maxReceiveCount": fmt.Sprint(rp["maxReceiveCount"])})
		attrs["RedrivePolicy"] = string(b)
	}
	out, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs})
	if err != nil {
		return fmt.Errorf("create queue %s: %w", id, err)
	}
	url := aws.ToString(out.QueueUrl)
	ga, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: out.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		return fmt.Errorf("read queue %s: %w", id, err)
	}
	n.Ref[id] = url
	n.Att[id+".Arn"] = ga.Attributes[string(sqstypes.QueueAttributeNameQueueArn)]
	n.Att[id+".QueueName"] = name
	n.Att[id+".QueueUrl"] = url
	return nil
}

func createSecret(ctx context.Context, c *secretsmanager.Client, n *Names, id string, r Resource) error {
	p := r.Properties
	name := id
	if v, ok := p["Name"]; ok {
		s, err := n.Resolve(v)
		if err != nil {
			return fmt.Errorf("secret %s name: %w", id, err)
		}
		name = s
	}
	value := "{}"
	if v, ok := p["SecretString"]; ok {
		s, err := n.Resolve(v)
		if err != nil {
			return fmt.Errorf("secret %s value: %w", id, err)
		}
		value = s
	} else if g, ok := p["GenerateSecretString"].(map[string]any); ok {
		m := map[string]any{}
		if tmpl, ok := g["SecretStringTemplate"].(string); ok {
			_ = json.Unmarshal([]byte(tmpl), &m)
		}
		if key, ok := g["GenerateStringKey"].(string); ok {
			b := make([]byte, 20)
			_, _ = rand.Read(b)
			m[key] = hex.EncodeToString(b)
		}
		raw, _ := json.Marshal(m)
		value = string(raw)
	}
	out, err := c.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(value)})
	arn := ""
	if err != nil {
		if !strings.Contains(err.Error(), "ResourceExists") {
			return fmt.Errorf("create secret %s: %w", id, err)
		}
		d, derr := c.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(name)})
		if derr != nil {
			return fmt.Errorf("describe secret %s: %w", id, derr)
		}
		arn = aws.ToString(d.ARN)
	} else {
		arn = aws.ToString(out.ARN)
	}
	n.Ref[id] = arn
	n.Att[id+".Name"] = name
	return nil
}

func resolveFunction(t *Template, n *Names, id string) (Function, error) {
	f := Function{ID: id, Env: map[string]string{}, Timeout: 3}
	vars := map[string]any{}
	if g, ok := t.Globals["Function"].(map[string]any); ok {
		if to, ok := g["Timeout"]; ok {
			f.Timeout, _ = strconv.Atoi(fmt.Sprint(to))
		}
		for k, v := range envVars(g) {
			vars[k] = v
		}
	}
	p := t.Resources[id].Properties
	if to, ok := p["Timeout"]; ok {
		f.Timeout, _ = strconv.Atoi(fmt.Sprint(to))
	}
	for k, v := range envVars(p) {
		vars[k] = v
	}
	for k, v := range vars {
		s, err := n.Resolve(v)
		if err != nil {
			return f, fmt.Errorf("function %s env %s: %w", id, k, err)
		}
		f.Env[k] = s
	}
	evs, _ := p["Events"].(map[string]any)
	names := make([]string, 0, len(evs))
	for k := range evs {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, name := range names {
		ev, _ := evs[name].(map[string]any)
		props, _ := ev["Properties"].(map[string]any)
		switch ev["Type"] {
		case "HttpApi":
			rt := Route{Method: fmt.Sprint(props["Method"]), Path: fmt.Sprint(props["Path"])}
			if auth, ok := props["Auth"].(map[string]any); ok {
				a, err := jwtAuthorizer(t, n, props["ApiId"], fmt.Sprint(auth["Authorizer"]))
				if err != nil {
					return f, fmt.Errorf("function %s event %s: %w", id, name, err)
				}
				rt.Authorizer = a
			}
			f.Routes = append(f.Routes, rt)
		case "SQS":
			g, _ := props["Queue"].(map[string]any)["Fn::GetAtt"].([]any)
			if len(g) != 2 {
				return f, fmt.Errorf("function %s event %s: Queue must be !GetAtt Queue.Arn", id, name)
			}
			qid := fmt.Sprint(g[0])
			src := SQSSource{QueueID: qid, QueueURL: n.Ref[qid], BatchSize: 10}
			if b, ok := props["BatchSize"]; ok {
				src.BatchSize, _ = strconv.Atoi(fmt.Sprint(b))
			}
			if sc, ok := props["ScalingConfig"].(map[string]any); ok {
				mc, err := n.Resolve(sc["MaximumConcurrency"])
				if err != nil {
					return f, fmt.Errorf("function %s event %s MaximumConcurrency: %w", id, name, err)
				}
				if src.MaxConcurrency, err = strconv.Atoi(mc); err != nil {
					return f, fmt.Errorf("function %s event %s MaximumConcurrency %q: %w", id, name, mc, err)
				}
			}
			for _, rt := range list(props["FunctionResponseTypes"]) {
				if rt == "ReportBatchItemFailures" {
					src.ReportItemFailures = true
				}
			}
			f.Sources = append(f.Sources, src)
		}
	}
	return f, nil
}

// jwtAuthorizer resolves authorizer name of the API apiID refers to
// (!Ref of an AWS::Serverless::HttpApi). "NONE" is no authorizer.
func jwtAuthorizer(t *Template, n *Names, apiID any, name string) (*JWTAuthorizer, error) {
	if name == "NONE" {
		return nil, nil
	}
	ref, _ := apiID.(map[string]any)
	api, ok := t.Resources[fmt.Sprint(ref["Ref"])]
	if !ok || api.Type != "AWS::Serverless::HttpApi" {
		return nil, fmt.Errorf("authorizer %s: ApiId %v is not !Ref of an HttpApi of the template", name, apiID)
	}
	auth, _ := api.Properties["Auth"].(map[string]any)
	authorizers, _ := auth["Authorizers"].(map[string]any)
	def, ok := authorizers[name].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("authorizer %s is not among the API's Auth.Authorizers", name)
	}
	jc, ok := def["JwtConfiguration"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("authorizer %s has no JwtConfiguration (only JWT authorizers are run locally)", name)
	}
	a := &JWTAuthorizer{Name: name, IdentitySource: fmt.Sprint(def["IdentitySource"])}
	var err error
	if a.Issuer, err = n.Resolve(jc["issuer"]); err != nil {
		return nil, fmt.Errorf("authorizer %s issuer: %w", name, err)
	}
	for _, v := range list(jc["audience"]) {
		aud, err := n.Resolve(v)
		if err != nil {
			return nil, fmt.Errorf("authorizer %s audience: %w", name, err)
		}
		a.Audience = append(a.Audience, aud)
	}
	return a, nil
}

func envVars(props map[string]any) map[string]any {
	env, _ := props["Environment"].(map[string]any)
	vars, _ := env["Variables"].(map[string]any)
	return vars
}

func list(v any) []any {
	l, _ := v.([]any)
	return l
}

// generatedName is the name CloudFormation gives a resource the template
// names not: the stack's name and the logical id, within 64 characters
// (Scheduler's and IAM's limit).
func generatedName(stack, id string) string {
	name := stack + "-" + id
	if len(name) > 64 {
		name = name[:64]
	}
	return name
}
